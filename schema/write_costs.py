"""Writes whose cost on the read side grows with what they carry or touch, charged to
per-user budgets before they are dispatched (the mutation rate counts each as one).

The search index keeps a sorted set per word (projections/projectors/search.py), so
a post costs Redis a key for each word no other post has. Setup: one user, ten posts
of 100,000 characters of random five-letter words. They made 164,906 keys and 42.9 MB
of Redis, and each publish held Redis for 28-55 ms (its slow log). Within the write
rate (120 mutations a minute), one user could have added about 250 MB a minute, until
Redis refused writes for want of memory and every projection stopped. Natural text is
cheap: a long article has a few thousand distinct words, most already in the index.
createPost and updatePost count the distinct words of the title, content and tags they
are sent (as the index splits them) against INKWELL_RATE_LIMIT_SEARCH_WORDS.

A profile update rewrites the author's name into every post and comment of theirs in
one Redis script (projections/projectors/lua/author_renamed.lua): 15 ms with 5,000
comments, 66-85 ms with 20,000, Redis held meanwhile. At the write rate, an author
with 100,000 comments could have held Redis most of every minute.
INKWELL_RATE_LIMIT_PROFILE_UPDATES counts them.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain import rules
from projections.keyspace.search_words import words
from schema.context import Context
from schema.errors import BadInput


async def charge_search_words(
    ctx: Context, title: str | None, content: str | None, tags: Sequence[str] | None
) -> None:
    """Raises RateLimited past the user's budget, BadInput when one post alone has more
    words than a whole budget (no wait would let it through). Anonymous writes are
    refused by the domain anyway, and nothing is counted for them.

    The texts pass the domain's own rules first (InvalidInput, as the command would get):
    split before them, a refused 1 MB content held the event loop 57 ms."""
    throttle = ctx.services.throttle
    if throttle is None or ctx.viewer_id is None:
        return
    texts = [
        rules.title(title) if title is not None else "",
        rules.content(content) if content is not None else "",
        *(rules.tags(tuple(tags)) if tags else ()),
    ]
    count = len(words(*texts))
    if not count:
        return
    rule = throttle.search_words
    if count > rule.most:
        raise BadInput(
            f"The post has {count} distinct words; search indexes at most {rule.most} of a "
            "user's words at a time.",
            "content",
        )
    await throttle.hit(rule, ctx.viewer_id, cost=count)


async def charge_profile_update(ctx: Context) -> None:
    """Raises RateLimited past the user's profile updates."""
    throttle = ctx.services.throttle
    if throttle is not None and ctx.viewer_id is not None:
        await throttle.hit(throttle.profile_updates, ctx.viewer_id)
