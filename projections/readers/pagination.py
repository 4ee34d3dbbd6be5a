"""Cursor pages over sorted sets, with cursors that survive a growing list.

A cursor is the (score, member) of the last item seen, not an offset: posts that
arrive at the head while a client pages never shift what comes after its cursor.
Equal scores are ordered by member, as Redis orders them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from redis.asyncio import Redis

from domain.errors import excerpt
from projections.redisio.read_only_scripts import ReadOnlyScript

MAX_FIRST = 100
INTERSECTION_SLICE = (Path(__file__).parent / "lua" / "intersection_slice.lua").read_text()
# What one slice of an intersection may cost Redis, in members read and looked up: about
# 2-3 ms, however many words and posts (lua/intersection_slice.lua).
LOOKUPS_PER_SLICE = 2048
# A count that looks up no more than this (the smallest set's size times the sets) is one
# ZINTERCARD, which does in C what a slice does in Lua: about 4 ms.
ONE_CALL_LOOKUPS = 32_768


# A cursor's text exactly as `Position.cursor` writes it: the score in the decimal str()
# gives, within 64 bits, and the member, an id the server made (a lower-case UUID).
CURSOR_TEXT = re.compile(
    r"(0|-?[1-9][0-9]{0,18}):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
)
SCORES = range(-(2**63), 2**63)


class BadPageRequest(ValueError):
    """A page size out of range or a cursor this server did not make; `field` names the
    argument, as InvalidInput's does."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, order=True)
class Position:
    score: int
    member: str

    def cursor(self) -> str:
        return base64.urlsafe_b64encode(f"{self.score}:{self.member}".encode()).decode()

    @staticmethod
    def from_cursor(cursor: str, field: str) -> Position:
        """The position of a cursor this server made, sent back exactly as it was written.
        int() and b64decode alone took " 1", "1_000", "+1", fullwidth and Arabic-Indic
        digits, 30-digit scores, "1:", "1:x" and characters outside base64 in a cursor,
        and each paged as if the server had made it."""
        position = _decoded(cursor)
        if position is None or position.cursor() != cursor:
            raise BadPageRequest(f"{excerpt(cursor)} is not a cursor this server made", field)
        return position


def _decoded(cursor: str) -> Position | None:
    """The position a cursor's text names, if that text is in the form `cursor` writes."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    found = CURSOR_TEXT.fullmatch(text)
    if found is None or int(found[1]) not in SCORES:
        return None
    return Position(int(found[1]), found[2])


Count = Callable[[], Awaitable[int]]
Charge = Callable[[int], Awaitable[None]]  # what a read may cost Redis, in members looked up


@dataclass(frozen=True)
class Page:
    items: list[Position]  # in the list's order, whichever way the page was walked
    has_next: bool
    # The list's size, or what counts it when asked: an intersection's count walks every
    # member of its smallest set, and is made only for a client that asks for it.
    total: int | Count
    has_previous: bool = False
    stamp: str | None = None  # the value `pages` was asked to read with it, if any


@dataclass(frozen=True)
class Slice:
    """Relay's window on a list: `first` items after `after`, or with `last` set, the
    `last` items before `before` (then `first` is the contract's default, which a client
    cannot leave out: one it gives with `last` is refused, see one_direction). Both
    cursors may bound either walk."""

    first: int
    after: str | None = None
    last: int | None = None
    before: str | None = None

    @property
    def backward(self) -> bool:
        return self.last is not None

    @property
    def size(self) -> int:
        return self.last if self.last is not None else self.first

    def check(self) -> tuple[Position | None, Position | None]:
        """The cursors as positions, once the sizes are known to be in range."""
        check_first(self.first)
        if self.last is not None and not 0 <= self.last <= MAX_FIRST:
            raise BadPageRequest(f"last must be between 0 and {MAX_FIRST}", "last")
        after = Position.from_cursor(self.after, "after") if self.after else None
        before = Position.from_cursor(self.before, "before") if self.before else None
        return after, before

    def ends(self) -> tuple[Position | None, Position | None, bool]:
        """The checked cursors as a walk sees them: where it starts, where it stops, and
        whether it walks forward."""
        after, before = self.check()
        return (before, after, False) if self.backward else (after, before, True)


def one_direction(first_given: int | None, last: int | None) -> None:
    """Refuses a `first` the client gave beside a `last`. Relay's specification takes
    the first items and then the last of those, which no client means; ignoring either
    hands back items outside the window it asked for (an outside probe)."""
    if first_given is not None and last is not None:
        raise BadPageRequest("give first or last, not both: first pages forward, last back", "last")


def check_first(first: int) -> None:
    if not 0 <= first <= MAX_FIRST:
        raise BadPageRequest(f"first must be between 0 and {MAX_FIRST}", "first")


@dataclass(frozen=True)
class Walk:
    """Up to `count` positions past `start` (or from it, when `inclusive`), walking a list
    forward or backward, stopping before `stop`."""

    start: Position | None
    forward: bool
    count: int
    stop: Position | None = None
    inclusive: bool = False

    def passes(self, item: Position, *, descending: bool) -> bool:
        """Whether the walk takes `item`: past its start and short of its stop."""
        return _past(
            item, self.start, self.forward, descending=descending, inclusive=self.inclusive
        ) and (
            self.stop is None
            or _past(self.stop, item, self.forward, descending=descending, inclusive=False)
        )


class _List(Protocol):
    @property
    def total(self) -> int | Count | None: ...

    async def walk(self, walk: Walk) -> list[Position]:
        """The positions the walk takes, in walking order."""


async def newest_first(redis: Redis, key: str, window: Slice) -> Page:
    return await _page(_SortedSet(redis, key, descending=True), window)


PageRequest = tuple[str, Slice]  # (sorted set key, the window on it)


async def pages(
    redis: Redis,
    requests: Sequence[PageRequest],
    *,
    newest_first: bool,
    stamps: Sequence[tuple[str, str]] = (),
) -> list[Page | BadPageRequest]:
    """Many pages in one round trip (a page of posts' comments, say): every page's size and
    first window in one pipeline; only pages that skip tied scores, or probe behind a
    cursor, read again. A bad request gets its error in its place and spoils no other.

    `stamps`, one (hash key, field) per request, are read in the same MULTI as the sizes
    and first windows, and each page carries its value (`Page.stamp`): a post's position
    beside its comments tells whether the page is of the post as it was read before."""
    sources: list[_SortedSet | BadPageRequest] = []
    for key, window in requests:
        try:
            window.check()
            sources.append(_SortedSet(redis, key, descending=newest_first))
        except BadPageRequest as error:
            sources.append(error)
    async with redis.pipeline(transaction=bool(stamps)) as pipe:
        for source, (_, window) in zip(sources, requests, strict=True):
            if isinstance(source, _SortedSet):
                source.prefetch(pipe, window)
        for key, name in stamps:
            pipe.hget(key, name)
        replies = await pipe.execute()
    stamped = iter(replies[len(replies) - len(stamps) :])
    prefetched = iter(replies[: len(replies) - len(stamps)])
    found: list[Page | BadPageRequest] = []
    for source, (_, window) in zip(sources, requests, strict=True):
        stamp = next(stamped, None)
        if isinstance(source, BadPageRequest):
            found.append(source)
            continue
        source.prefetched(next(prefetched), next(prefetched))
        page = await _page(source, window)
        found.append(replace(page, stamp=stamp) if stamps else page)
    return found


async def in_every(
    script: ReadOnlyScript, keys: Sequence[str], window: Slice, charge: Charge
) -> Page:
    """A newest-first page of the members every sorted set of `keys` holds (a search's
    words), walked inside Redis in slices by `script`, INTERSECTION_SLICE registered.
    Before each call, the most it may cost Redis is passed to `charge`, which may refuse
    to go on."""
    return await _page(_Intersection(script, keys, charge), window)


async def _page(source: _List, window: Slice) -> Page:
    start, stop, forward = window.ends()
    items = await source.walk(Walk(start, forward, window.size + 1, stop))
    more = len(items) > window.size
    items = items[: window.size]
    # Whether anything lies beyond the cursor the walk started from, the cursor's item
    # included: one probe, made only when a cursor was sent.
    behind = start is not None and bool(
        await source.walk(Walk(start, not forward, 1, inclusive=True))
    )
    total = source.total if source.total is not None else 0
    if forward:
        return Page(items, has_next=more, total=total, has_previous=behind)
    return Page(items[::-1], has_next=behind, total=total, has_previous=more)


def _past(
    item: Position, start: Position | None, forward: bool, *, descending: bool, inclusive: bool
) -> bool:
    """Whether `item` comes after `start` when walking the list forward or backward."""
    if start is None:
        return True
    if item == start:
        return inclusive
    return (item < start) == (forward == descending)


class _Intersection:
    """The members in every sorted set of `keys`, newest first, as one list. Each walk is
    a few script calls that each read and look up LOOKUPS_PER_SLICE members at most, and
    return only the items they take; the count is made only when asked for, once however
    many fields of its connection ask (aliases). Each call is charged before it is made,
    for the most it may look up: charged after, a call the budget refused had run all
    the same."""

    def __init__(self, script: ReadOnlyScript, keys: Sequence[str], charge: Charge) -> None:
        self._script = script
        self._keys = list(keys)
        self._charge = charge
        self._members = max(1, LOOKUPS_PER_SLICE // len(self._keys))
        self._counting = asyncio.Lock()
        self._counted: int | None = None

    @property
    def total(self) -> Count:
        return self._count

    async def walk(self, walk: Walk) -> list[Position]:
        items: list[Position] = []
        start, inclusive = walk.start, walk.inclusive
        while True:
            _, flat, resume = await self._slice(
                start, walk.forward, walk.count - len(items), inclusive, walk.stop
            )
            items += [Position(int(float(flat[i + 1])), flat[i]) for i in range(0, len(flat), 2)]
            if len(items) >= walk.count or resume is None:
                return items
            start, inclusive = resume, False

    async def _count(self) -> int:
        """How many members every set holds: one ZINTERCARD when the smallest set is small
        enough (ONE_CALL_LOOKUPS), else the smallest set walked in slices, oldest first,
        each counting the members the others hold too."""
        async with self._counting:
            if self._counted is None:
                self._counted = await self._count_all()
        return self._counted

    async def _count_all(self) -> int:
        redis = self._script.registered_client
        async with redis.pipeline(transaction=False) as pipe:
            for key in self._keys:
                pipe.zcard(key)
            sizes = await pipe.execute()
        smallest = min(int(size) for size in sizes)
        if not smallest:
            return 0
        one_call = smallest * len(self._keys)
        one_call = one_call if one_call <= ONE_CALL_LOOKUPS else 0
        if one_call:
            await self._charge(one_call)
        counted, start = 0, None
        while True:  # one call, unless the sets grew past one call's size meanwhile
            matches, _, start = await self._slice(start, False, 0, False, None, one_call=one_call)
            counted, one_call = counted + matches, 0
            if start is None:
                return counted

    async def _slice(
        self,
        start: Position | None,
        forward: bool,
        take: int,
        inclusive: bool,
        stop: Position | None,
        *,
        one_call: int = 0,
    ) -> tuple[int, list[str], Position | None]:
        """One script call: (matches among the members it looked at, the items it took,
        flat, and where the next slice starts, None at the walk's end). `one_call`: the
        lookups a whole count in one ZINTERCARD was charged (0: a slice, charged here)."""
        if not one_call:
            await self._charge(self._members * len(self._keys))
        args = [
            *_ends(start),
            int(forward),
            take,
            int(inclusive),
            *_ends(stop),
            self._members,
            one_call,
        ]
        matches, flat, score, member, _ = await self._script(keys=self._keys, args=args)
        resume = Position(int(float(score)), member) if member else None
        return int(matches), flat, resume


def _ends(position: Position | None) -> tuple[int | str, str]:
    return (position.score, position.member) if position is not None else ("", "")


@dataclass(frozen=True)
class Window:
    """One read of a sorted set: `count` members from `start`'s score towards `stop`'s,
    skipping `offset`, downwards (to lower scores) or up."""

    start: Position | None
    stop: Position | None
    offset: int
    count: int
    down: bool


class _SortedSet:
    """A sorted set read as a list; its size is read with the first window, in one round trip."""

    def __init__(self, redis: Redis, key: str, *, descending: bool) -> None:
        self.redis = redis
        self.key = key
        self.descending = descending
        self.total: int | None = None
        self._wanted: Window | None = None
        self._first: tuple[Window | None, list[tuple[str, float]]] | None = None

    def prefetch(self, pipe: Any, window: Slice) -> None:
        """Queues on a shared pipeline the size and the first window `_page` will read."""
        start, stop, forward = window.ends()
        self._wanted = Window(start, stop, 0, window.size + 1, forward == self.descending)
        pipe.zcard(self.key)
        self._queue(pipe, self._wanted)

    def prefetched(self, total: int, batch: list[tuple[str, float]]) -> None:
        """The replies to what `prefetch` queued."""
        self.total = int(total)
        self._first = (self._wanted, batch)

    async def walk(self, walk: Walk) -> list[Position]:
        down = walk.forward == self.descending  # towards lower scores
        items: list[Position] = []
        offset = 0
        while True:
            batch = await self._window(walk.start, walk.stop, offset, walk.count, down)
            found = (Position(int(score), member) for member, score in batch)
            items += [item for item in found if walk.passes(item, descending=self.descending)]
            if len(items) >= walk.count or len(batch) < walk.count:
                return items[: walk.count]
            # Members that share the cursor's score were skipped; read on past them.
            offset += len(batch)

    async def _window(
        self, start: Position | None, stop: Position | None, offset: int, count: int, down: bool
    ) -> list[tuple[str, float]]:
        """The next `count` members from the start's score on, towards lower scores or higher."""
        wanted = Window(start, stop, offset, count, down)
        if self._first is not None and self._first[0] == wanted:
            prefetched = self._first[1]
            self._first = None
            return prefetched
        async with self.redis.pipeline(transaction=False) as pipe:
            if self.total is None:
                pipe.zcard(self.key)
            self._queue(pipe, wanted)
            replies = await pipe.execute()
        if self.total is None:
            self.total = int(replies[0])
        batch: list[tuple[str, float]] = replies[-1]
        return batch

    def _queue(self, pipe: Any, window: Window) -> None:
        start, stop, offset, count = window.start, window.stop, window.offset, window.count
        if window.down:
            top = start.score if start else "+inf"
            bottom = stop.score if stop else "-inf"
            pipe.zrevrangebyscore(self.key, top, bottom, start=offset, num=count, withscores=True)
        else:
            bottom = start.score if start else "-inf"
            top = stop.score if stop else "+inf"
            pipe.zrangebyscore(self.key, bottom, top, start=offset, num=count, withscores=True)
