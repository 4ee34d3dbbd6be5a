"""Cursor pages over sorted sets, with cursors that survive a growing list.

A cursor is the (score, member) of the last item seen, not an offset: posts that
arrive at the head while a client pages never shift what comes after its cursor.
Equal scores are ordered by member, as Redis orders them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

MAX_FIRST = 100


class BadPageRequest(ValueError):
    pass


@dataclass(frozen=True, order=True)
class Position:
    score: int
    member: str

    def cursor(self) -> str:
        return base64.urlsafe_b64encode(f"{self.score}:{self.member}".encode()).decode()

    @staticmethod
    def from_cursor(cursor: str) -> Position:
        try:
            score, member = base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)
            return Position(int(score), member)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise BadPageRequest(f"{cursor!r} is not a cursor this server made") from None


@dataclass(frozen=True)
class Page:
    items: list[Position]
    has_next: bool
    total: int


def check_first(first: int) -> None:
    if not 0 <= first <= MAX_FIRST:
        raise BadPageRequest(f"first must be between 0 and {MAX_FIRST}")


async def newest_first(redis: Redis, key: str, first: int, after: str | None) -> Page:
    return await _page(redis, key, first, after, newest_first=True)


def page_of(newest_to_oldest: list[Position], first: int, after: str | None) -> Page:
    """A page of an already computed list (a search result), with the same cursors."""
    check_first(first)
    start = Position.from_cursor(after) if after else None
    rest = [item for item in newest_to_oldest if start is None or item < start]
    return Page(rest[:first], has_next=len(rest) > first, total=len(newest_to_oldest))


async def _page(
    redis: Redis, key: str, first: int, after: str | None, *, newest_first: bool
) -> Page:
    (page,) = await pages(redis, [(key, first, after)], newest_first=newest_first)
    if isinstance(page, BadPageRequest):
        raise page
    return page


PageRequest = tuple[str, int, str | None]  # (sorted set key, first, after)


async def pages(
    redis: Redis, requests: Sequence[PageRequest], *, newest_first: bool
) -> list[Page | BadPageRequest]:
    """Many pages in one round trip (a page of posts' comments, say); a bad request gets
    its error in its place and spoils none of the others."""
    starts: list[Position | BadPageRequest | None] = []
    for _, first, after in requests:
        try:
            check_first(first)
            starts.append(Position.from_cursor(after) if after else None)
        except BadPageRequest as error:
            starts.append(error)
    async with redis.pipeline(transaction=False) as pipe:
        for (key, first, _), start in zip(requests, starts, strict=True):
            if not isinstance(start, BadPageRequest):
                pipe.zcard(key)
                _window(pipe, key, start, 0, first + 1, newest_first)
        replies = iter(await pipe.execute())
    found: list[Page | BadPageRequest] = []
    for (key, first, _), start in zip(requests, starts, strict=True):
        if isinstance(start, BadPageRequest):
            found.append(start)
            continue
        total, batch = next(replies), next(replies)
        found.append(await _rest(redis, key, first, start, total, batch, newest_first))
    return found


async def _rest(
    redis: Redis,
    key: str,
    first: int,
    start: Position | None,
    total: int,
    batch: list[tuple[str, float]],
    newest_first: bool,
) -> Page:
    """Completes a page from its first window; reads on only past members that share the
    cursor's score (one more than asked tells whether there is a next page)."""
    wanted = first + 1
    items: list[Position] = []
    offset = 0
    while True:
        for member, score in batch:
            item = Position(int(score), member)
            if start is None or (item < start if newest_first else item > start):
                items.append(item)
        if len(items) >= wanted or len(batch) < wanted:
            break
        offset += len(batch)
        async with redis.pipeline(transaction=False) as pipe:
            _window(pipe, key, start, offset, wanted, newest_first)
            (batch,) = await pipe.execute()
    return Page(items[:first], has_next=len(items) > first, total=total)


def _window(
    pipe: object, key: str, start: Position | None, offset: int, count: int, newest_first: bool
) -> None:
    """Queues the next `count` members from the cursor's score on, in the page's order."""
    if newest_first:
        top = start.score if start else "+inf"
        pipe.zrevrangebyscore(key, top, "-inf", start=offset, num=count, withscores=True)  # type: ignore[attr-defined]
    else:
        bottom = start.score if start else "-inf"
        pipe.zrangebyscore(key, bottom, "+inf", start=offset, num=count, withscores=True)  # type: ignore[attr-defined]
