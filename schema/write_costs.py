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

What a write stores grows with its text too, words or none: a post of 100,000 emoji is
400 KB of UTF-8 and not one search word. Each such createPost added about 460 KB to
Redis and 400 KB to the log, each updatePost 400-480 KB to the log; within the write
rate one user added 55 MB of Redis a minute, and an address with the ten accounts it may
register in a minute ten times that, until Redis refused every write (an outside
probe). createPost, updatePost and addComment count the UTF-8 bytes of the texts they
are sent against INKWELL_RATE_LIMIT_TEXT_BYTES, per user and per client address.

A profile update rewrites the author's name into every post and comment of theirs in
one Redis script (projections/projectors/lua/author_renamed.lua): 15 ms with 5,000
comments, 66-85 ms with 20,000, Redis held meanwhile. At the write rate, an author
with 100,000 comments could have held Redis most of every minute.
INKWELL_RATE_LIMIT_PROFILE_UPDATES counts them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from domain import rules
from domain.errors import DomainError
from projections.keyspace.search_words import words
from protection.addresses import client_of
from protection.throttle import Charged, RateLimited, Rule, Throttle
from schema.context import Context
from schema.errors import BadInput


def post_texts_charged(
    ctx: Context, title: str | None, content: str | None, tags: Sequence[str] | None
) -> AbstractAsyncContextManager[None]:
    """Charges a createPost's or updatePost's texts, their bytes then their distinct words,
    for the command run within; given back if the command is refused (it stored
    nothing: an editor retrying a CONFLICT spent the budget on nothing, a re-check probe
    found), or if the words are refused after the bytes were charged. Raises
    RateLimited past a budget, BadInput when one post alone is over a whole budget (no
    wait would let it through). Anonymous writes are refused by the domain anyway, and
    nothing is counted for them.

    The texts pass the domain's own rules first (InvalidInput, as the command would get):
    split before them, a refused 1 MB content held the event loop 57 ms."""

    async def charge(charges: _Charges, viewer: str) -> None:
        texts = [
            rules.title(title) if title is not None else "",
            rules.content(content) if content is not None else "",
            *(rules.tags(tuple(tags)) if tags else ()),
        ]
        await _charge_bytes(charges, ctx, viewer, texts, "content")
        await _charge_words(charges, viewer, texts)

    return _charged(ctx, charge)


def comment_text_charged(ctx: Context, body: str) -> AbstractAsyncContextManager[None]:
    """Charges an addComment's body's bytes, as post_texts_charged a post's."""

    async def charge(charges: _Charges, viewer: str) -> None:
        await _charge_bytes(charges, ctx, viewer, [rules.comment_body(body)], "body")

    return _charged(ctx, charge)


@asynccontextmanager
async def _charged(
    ctx: Context, charge: Callable[[_Charges, str], Awaitable[None]]
) -> AsyncIterator[None]:
    """`charge` for the command run within, given back unless it stores (_Charges)."""
    throttle = ctx.services.throttle
    if throttle is None or ctx.viewer_id is None:
        yield
        return
    charges = _Charges(throttle)
    async with charges.given_back_unless_stored():
        await charge(charges, ctx.viewer_id)
        yield


class _Charges:
    """What one write was charged, to give back should it store nothing."""

    def __init__(self, throttle: Throttle) -> None:
        self.throttle = throttle
        self._taken: list[tuple[Charged, int]] = []

    async def take(self, counts: list[tuple[Rule, str]], cost: int) -> None:
        """Only what was charged is recorded: nothing while the storage fails open, and a
        charge skipped then and given back later took the counts below zero (a re-check
        probe: -8.9 MB of text bytes, -80,000 words)."""
        self._taken.append((await self.throttle.hit_all(counts, cost), cost))

    @asynccontextmanager
    async def given_back_unless_stored(self) -> AsyncIterator[None]:
        """What was charged within is given back if a refusal leaves it: the command's
        (nothing was appended), or a later charge's."""
        try:
            yield
        except (DomainError, BadInput, RateLimited):
            for charged, cost in self._taken:
                await self.throttle.give_back(charged, cost)
            raise


async def _charge_bytes(
    charges: _Charges, ctx: Context, viewer: str, texts: list[str], field: str
) -> None:
    """To the user and to the client address, in one charge (refused by either, neither
    keeps it)."""
    size = sum(len(text.encode()) for text in texts)
    if not size:
        return
    rule = charges.throttle.text_bytes
    if size > rule.most:
        raise BadInput(
            f"The text is {size} bytes; a user may store at most {rule.most} at a time.", field
        )
    address = client_of(ctx)
    await charges.take([(rule, viewer), (charges.throttle.text_bytes_per_address, address)], size)


async def _charge_words(charges: _Charges, viewer: str, texts: list[str]) -> None:
    count = len(words(*texts))
    if not count:
        return
    rule = charges.throttle.search_words
    if count > rule.most:
        raise BadInput(
            f"The post has {count} distinct words; search indexes at most {rule.most} of a "
            "user's words at a time.",
            "content",
        )
    await charges.take([(rule, viewer)], count)


async def charge_profile_update(ctx: Context) -> None:
    """Raises RateLimited past the user's profile updates."""
    throttle = ctx.services.throttle
    if throttle is not None and ctx.viewer_id is not None:
        await throttle.hit(throttle.profile_updates, ctx.viewer_id)
