"""The per-request context: the services a resolver may use, and who is asking."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeVar

from starlette.types import Scope
from strawberry.dataloader import DataLoader

from auth.tokens import BearerTokens
from domain.bus import Caller, CommandBus
from projections.live.consistency import ConsistencyTimeout, ConsistencyWaiter
from projections.live.read_models import LiveReadModels
from projections.readers.pagination import Slice
from projections.readers.read_models import CommentPage, ReadModels
from protection.client_gone import departure, unless_gone
from protection.throttle import Throttle
from schema.persisted import Documents

T = TypeVar("T")

# How many times more a read waits and runs when Redis, read after it, no longer held the
# position it waited for (`Context.settled`, schema/consistency.py).
RERUNS = 3


class ClientLeft(ConsistencyTimeout):
    """A wait for the read models cut short because the HTTP client closed its connection
    before its answer began: nobody would read it (protection/client_gone.py)."""

    def __init__(self, position: int) -> None:
        Exception.__init__(
            self, f"the client left before the read models reached position {position}"
        )
        self.position = position


@dataclass(frozen=True)
class Services:
    """What every request shares; built once by the composition root."""

    bus: CommandBus
    reads: ReadModels
    live: LiveReadModels
    consistency: ConsistencyWaiter
    tokens: BearerTokens
    consistency_timeout: float
    documents: Documents  # persisted queries: automatic (APQ) or a trusted list
    # Wraps each live subscription's lifetime, for the subscriptions gauge.
    subscription: Callable[[], AbstractContextManager[None]] = nullcontext
    throttle: Throttle | None = None  # rate limits; None when they are off


@dataclass
class Context:
    services: Services
    viewer_id: str | None
    correlation_id: str
    # When the viewer's token expires (Unix seconds): a WebSocket is closed then.
    viewer_expires: int | None = None
    consistent_with: str | None = None  # the raw X-Consistent-With header
    connection_params: dict[str, object] | None = None  # a WebSocket's connection_init payload
    client_address: str | None = None  # what rate limits count and anonymous commands scope by
    # A WebSocket handshake's Authorization header, checked with connection_init's.
    handshake_authorization: str | None = None
    # An HTTP request's ASGI scope: its waits for the read models end when its client
    # leaves. Each waited out its INKWELL_CONSISTENCY_TIMEOUT in one of its address's
    # places, answering nobody (protection/requests_at_once.py).
    scope: Scope | None = field(default=None, repr=False)
    _reached: int = field(default=0, repr=False)
    # Reads found to disagree with one made before them in the same execution (a post's
    # comments page or like of a later post than the one read: Post.comments and
    # Post.liked_by_viewer count them). A query runs again
    # (schema/torn_reads.py); a shared subscription skips the item, as a newer one comes.
    torn_reads: int = field(default=0, repr=False)

    @property
    def reads(self) -> ReadModels:
        return self.services.reads

    @cached_property
    def liked_by_viewer(self) -> DataLoader[str, tuple[bool, int | None]]:
        """Batches every likedByViewer of one request into one Redis round trip, each with
        the position its post held (ReadModels.liked_by). It caches nothing: a WebSocket's
        context lives for many subscription items."""

        async def load(post_ids: list[str]) -> list[tuple[bool, int | None]]:
            if (viewer_id := self.viewer_id) is None:
                return [(False, None)] * len(post_ids)
            return await self.nested(lambda: self.reads.liked_by(viewer_id, post_ids))

        return DataLoader(load_fn=load, cache=False)

    @cached_property
    def comment_pages(self) -> DataLoader[tuple[str, Slice], CommentPage]:
        """Batches the comment pages of every post in a list into one pipeline (of pages,
        then one of comments): 100 posts cost two round trips, not 200, and no query holds
        more than one pooled Redis connection at a time for them."""

        async def load(
            requests: list[tuple[str, Slice]],
        ) -> list[CommentPage | BaseException]:
            return list(await self.nested(lambda: self.reads.comment_pages(requests)))

        return DataLoader(load_fn=load, cache=False)

    def caller(self, command_id: str | None) -> Caller:
        return Caller(self.viewer_id, self.correlation_id, command_id, self.client_address)

    async def settled(
        self,
        position: int,
        read: Callable[[], Awaitable[T]],
        *,
        from_client: bool = False,
        check_found: bool = False,
    ) -> T:
        """`read()` once the read models hold `position` (read_your_write). A flush between
        the wait and the read empties the spaces it reads: a query with X-Consistent-With
        answered `post: null` for a post that existed, a mutation's payload that its
        committed post was hidden. A read that found nothing (or any, `check_found`) is
        made again, after another wait, when Redis, read after it, no longer holds the
        position in the spaces it read (ConsistencyWaiter.still_holds); up to RERUNS
        times, then ConsistencyTimeout."""
        consistency = self.services.consistency
        await self.read_your_write(position, from_client=from_client)
        for _ in range(RERUNS + 1):
            spaces = consistency.spaces()
            value = await read()
            if (value is not None and not check_found) or await consistency.still_holds(
                position, spaces
            ):
                return value
            await self.read_your_write(position, from_client=from_client, again=True)
        raise ConsistencyTimeout(position, self.services.consistency_timeout)

    async def nested(self, read: Callable[[], Awaitable[T]]) -> T:
        """A read under one that waited for a position (a mutation payload's post, then its
        comments page): made through `settled` at that position. A flush between the two
        answered addComment's payload with the new commentCount beside an empty comments
        page (an outside probe: 26 of 1,094 payloads, a FLUSHALL every 0.7 s). A request
        that waited for nothing reads straight through, at no cost."""
        if self._reached == 0:
            return await read()
        return await self.settled(self._reached, read, check_found=True)

    async def read_your_write(
        self, position: int, *, from_client: bool = False, again: bool = False
    ) -> None:
        """Waits until the read models hold `position`, once per request and position
        (`again`: even if they were found to before). A position `from_client`
        (X-Consistent-With) past the log's head raises NotInLog; an HTTP client that
        leaves meanwhile, ClientLeft."""
        if position > self._reached or again:
            wait = self.services.consistency.wait_for(
                position, self.services.consistency_timeout, from_client=from_client
            )
            gone = None if self.scope is None else departure(self.scope)
            if gone is None:
                await wait
            elif not await unless_gone(wait, gone):
                raise ClientLeft(position)
            self._reached = position
