"""A budget per user of the distinct words their posts give the search index.

The index keeps a sorted set per word (projections/projectors/search.py), so a post
costs Redis a key for each word no other post has. Setup: one user, ten posts of
100,000 characters of random five-letter words. They made 164,906 keys and 42.9 MB
of Redis, and each publish held Redis for 28-55 ms (its slow log). Within the write
rate (120 mutations a minute), one user could have added about 250 MB a minute, until
Redis refused writes for want of memory and every projection stopped. Natural text is
cheap: a long article has a few thousand distinct words, most already in the index.

createPost and updatePost count the distinct words of the title, content and tags they
are sent (as the index splits them), per user, against INKWELL_RATE_LIMIT_SEARCH_WORDS.
"""

from __future__ import annotations

from projections.keyspace.search_words import words
from schema.context import Context
from schema.errors import BadInput


async def charge_search_words(ctx: Context, *texts: str | None) -> None:
    """Raises RateLimited past the user's budget, BadInput when one post alone has more
    words than a whole budget (no wait would let it through). Anonymous writes are
    refused by the domain anyway, and nothing is counted for them."""
    throttle = ctx.services.throttle
    if throttle is None or ctx.viewer_id is None:
        return
    count = len(words(*(text for text in texts if text)))
    if not count:
        return
    rule = throttle.search_words
    if count > rule.most:
        raise BadInput(
            f"The post has {count} distinct words; search indexes at most {rule.most} of a "
            "user's words at a time."
        )
    await throttle.hit(rule, ctx.viewer_id, cost=count)
