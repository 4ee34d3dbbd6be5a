"""A WebSocket's messages as the app receives them, its operations at the address's rates.

Every operation (a `subscribe`, or the legacy `start`) counts against the address's
request rate, as an HTTP request does; a subscription also against the subscribe rate.
An operation past a rate waits for its turn, and the socket is read on meanwhile:

- a query or a mutation goes ahead of a held subscription, if the request rate takes
  it (`_goes_ahead`);
- a ping or a pong goes ahead of it. graphql-ws's documented pong timeout closes a
  socket whose ping goes unanswered, and uvicorn's own keepalive, whose pongs it reads
  only while the app reads, closed a socket after 40 s of a held subscribe with 1011,
  which graphql-ws takes as fatal: every subscription of a page ended for good (an
  outside probe, 100 subscriptions);
- a disconnect ends the wait at once;
- a `complete` (`stop`) of a subscribe that waits for its turn withdraws it: neither
  reaches the app, and it takes no turn. It had started when its turn came, a minute
  later, and sent an item for an id the client had completed (an outside probe). Any
  other `complete` goes ahead: its subscribe went through before;
- every other message waits behind it, in order (a `complete` follows its `subscribe`),
  up to MAX_WAITING messages or MAX_WAITING_BYTES: past either, 1013.

Closing the socket at the first subscribe past the rate sent a page that reconnected
with many subscriptions into a loop: each new socket spent the slots freed since, was
closed, and took the subscriptions it had been given with it (an outside probe: 127
closes in 125 s). Held, they enter at the rate. A subscribe whose turn is further than
MAX_HELD_SECONDS away (a rate per hour) still closes the socket with 1013.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Iterator

from starlette.types import Message, Receive

from protection.new_documents import new_document_cost
from protection.throttle import RateLimited, Rule, Throttle
from schema import json_codec
from schema.operation_kinds import operation_kind

SUBSCRIBE_TYPES = {"subscribe", "start"}  # graphql-transport-ws, legacy graphql-ws
COMPLETE_TYPES = {"complete", "stop"}
ONE_ANSWER = {"query", "mutation"}  # operations the subscribe rate does not count
GOING_AHEAD = {"ping", "pong"}
# Longer than a rate per minute ever makes one subscribe wait.
MAX_HELD_SECONDS = 65
# Behind a held subscribe: more than a page's 100 subscribes and their completes, in
# UTF-8 bytes (counted in characters, 31 messages of 31,700 emoji each held 3.9 MB a
# socket, 250 MB for one address's 50 sockets: a re-check probe).
MAX_WAITING = 256
MAX_WAITING_BYTES = 256 * 1024

Close = Callable[[str], Awaitable[Message]]  # sends 1013 with the reason; the disconnect
Charge = tuple[Rule, int]  # a rate an operation is counted under, and how many units


def message_fields(message: Message) -> tuple[str | None, str | None]:
    """The protocol message's `type` and `id`, each if it reads as one."""
    parsed = _parsed(message)
    # A type that is not a string (`[]`, `{}`) cannot be looked up in a set.
    kind, operation_id = parsed.get("type"), parsed.get("id")
    return (
        kind if isinstance(kind, str) else None,
        operation_id if isinstance(operation_id, str) else None,
    )


def new_document_charge(message: Message, most: int) -> int:
    """What parsing the subscribe's document would cost its address, when the process has
    not parsed it (protection/new_documents.py); 0 otherwise."""
    payload = _parsed(message).get("payload")
    return new_document_cost(payload.get("query"), most) if isinstance(payload, dict) else 0


def counted_subscribe(message: Message) -> bool:
    """Whether the subscribe rate counts the message: a subscribe whose operation is a
    subscription, or may be (a persisted query's hash alone; a document that does not
    parse, which the schema refuses at once). A query or a mutation sent over the socket
    is counted by the request and query-cost rates alone, as over HTTP
    (schema/operation_kinds.py)."""
    parsed = _parsed(message)
    kind = parsed.get("type")
    if not isinstance(kind, str) or kind not in SUBSCRIBE_TYPES:  # `[]` is no key of a set
        return False
    payload = parsed.get("payload")
    query = payload.get("query") if isinstance(payload, dict) else None
    if not isinstance(query, str):
        return True
    name = payload.get("operationName") if isinstance(payload, dict) else None
    return operation_kind(query, name if isinstance(name, str) else None) not in ONE_ANSWER


def _parsed(message: Message) -> dict[str, object]:
    """The protocol message as an object; empty if it is none."""
    data = message.get("text") or message.get("bytes")
    if not data:
        return {}
    try:
        parsed = json_codec.parse(data)
    except ValueError:
        return {}  # the protocol handler answers malformed messages itself
    return parsed if isinstance(parsed, dict) else {}


class SubscribeTurns:
    def __init__(self, receive: Receive, throttle: Throttle, address: str, close: Close) -> None:
        """`receive` gives the socket's messages, already checked for size and rate (a
        refusal among them is a disconnect)."""
        self._receive = receive
        self._throttle = throttle
        self._address = address
        self._close = close
        self._held: Message | None = None
        self._turn: asyncio.Task[RateLimited | None] | None = None
        self._reading: asyncio.Task[Message] | None = None  # begun while one was held
        self._held_id: str | None = None
        # Each with its `type` and `id`, read once: a message arriving while one is held
        # is looked up among them, and had each parsed again (up to 256 KB a message).
        self._waiting: deque[tuple[Message, str | None, str | None]] = deque()
        self._waiting_bytes = 0
        self._closed = False

    async def __call__(self) -> Message:
        while True:
            if self._turn is not None:
                given = await self._while_held()
                if given is not None:
                    return given
                continue
            message = self._next_waiting() if self._waiting else await self._read()
            if message["type"] != "websocket.receive":
                return message
            kind, operation_id = message_fields(message)
            if kind not in SUBSCRIBE_TYPES:
                return message
            rules = self._rules(message)
            refused = await self._count(rules)
            if refused is None:
                return message
            self._held, self._held_id = message, operation_id
            self._turn = asyncio.create_task(self._wait_for_turn(*refused, rules))

    def close(self) -> None:
        """Stops the waits of a socket that is done. A held turn's wait also stops by
        itself once it sees the socket closed (_wait_for_turn): a cancel can be lost."""
        self._closed = True
        for task in (self._turn, self._reading):
            if task is not None:
                task.cancel()

    async def _while_held(self) -> Message | None:
        """The held subscribe once its turn came, a message that goes ahead of it or ends
        the socket; None when one more message took its place behind it."""
        assert self._turn is not None
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._receive())
        await asyncio.wait({self._turn, self._reading}, return_when=asyncio.FIRST_COMPLETED)
        if self._turn.done():
            refused, held = self._turn.result(), self._held
            self._turn = self._held = None
            if refused is not None:
                return await self._close(str(refused)[:120])
            assert held is not None
            return held
        message = await self._read()
        if message["type"] != "websocket.receive":
            self._turn.cancel()
            self._turn = self._held = None
            return message
        kind, operation_id = message_fields(message)
        if kind in GOING_AHEAD:
            return message
        if kind in COMPLETE_TYPES:
            if operation_id is not None and self._withdraw(operation_id):
                return None
            # Its subscribe went through before: it goes ahead, or the subscription kept
            # sending items after it for up to a minute (a re-check probe).
            return message
        if await self._goes_ahead(message, kind, operation_id):
            return message
        self._waiting.append((message, kind, operation_id))
        self._waiting_bytes += message_size(message)
        if len(self._waiting) > MAX_WAITING or self._waiting_bytes > MAX_WAITING_BYTES:
            self._turn.cancel()
            self._turn = self._held = None
            return await self._close(
                f"more than {MAX_WAITING} messages or {MAX_WAITING_BYTES} bytes waiting "
                "behind a subscribe past the rate"
            )
        return None

    def _rules(self, message: Message) -> Iterator[Charge]:
        """The rates an operation is counted under, in turn, with what each charges: the
        address's request rate, as an HTTP request is (dac437e let queries over a socket
        through at the message rate alone, 1,000 a second from one address, where HTTP
        takes 20: a re-check probe); a document the process has not parsed, its cost
        (protection/new_documents.py); then, for a subscription, the subscribe rate. Its
        document is parsed for its kind only once those took it."""
        yield self._throttle.requests, 1
        if cost := new_document_charge(message, self._throttle.query_cost.most):
            yield self._throttle.query_cost, cost
        if counted_subscribe(message):
            yield self._throttle.subscribes, 1

    async def _count(self, rules: Iterator[Charge]) -> tuple[Charge, RateLimited] | None:
        """Counts the operation under its rules in turn, up to the first that refuses it:
        that one and its refusal, or None once it is counted under all."""
        for rule, cost in rules:
            try:
                await self._throttle.hit(rule, self._address, cost)
            except RateLimited as limited:
                return (rule, cost), limited
        return None

    async def _goes_ahead(
        self, message: Message, kind: str | None, operation_id: str | None
    ) -> bool:
        """A query or a mutation goes ahead of a held subscription, counted at the request
        rate, unless its id is one that waits (it would overtake its own): it had waited
        for the subscription's turn, up to a minute (a re-check probe)."""
        if kind not in SUBSCRIBE_TYPES or operation_id is None:
            return False
        # Its kind is read from its parse: a document never parsed waits to be charged.
        unparsed = new_document_charge(message, self._throttle.query_cost.most)
        if unparsed or counted_subscribe(message):
            return False
        waiting_ids = [self._held_id, *(waiting_id for _, _, waiting_id in self._waiting)]
        if operation_id in waiting_ids:
            return False
        return await self._count(iter(((self._throttle.requests, 1),))) is None

    def _withdraw(self, operation_id: str) -> bool:
        """Drops the subscribe of `operation_id` that waits for its turn, held or queued
        behind the held one; whether there was one."""
        if self._held is not None and self._held_id == operation_id:
            assert self._turn is not None
            self._turn.cancel()
            self._turn = self._held = None
            return True
        for queued in self._waiting:
            message, kind, queued_id = queued
            if kind in SUBSCRIBE_TYPES and queued_id == operation_id:
                self._waiting.remove(queued)
                self._waiting_bytes -= message_size(message)
                return True
        return False

    async def _read(self) -> Message:
        """The socket's next message: the read begun while a subscribe was held, if any."""
        if self._reading is None:
            return await self._receive()
        reading = self._reading
        try:
            return await reading
        finally:
            self._reading = None

    def _next_waiting(self) -> Message:
        message, _, _ = self._waiting.popleft()
        self._waiting_bytes -= message_size(message)
        return message

    async def _wait_for_turn(
        self, refused: Charge, refusal: RateLimited, rules: Iterator[Charge]
    ) -> RateLimited | None:
        """None once the held operation is counted under the rule that refused it and
        those after it; the refusal if its turn is too far off. The refused rule is asked
        again only once its refusal's wait has passed: asked at once, as it was, it refused
        again, two more round trips to Redis (the hit and its window) for every subscribe
        held, most of an outside probe's held subscribes, whose sockets closed within
        0.3 s."""
        waited = 0
        limited: RateLimited | None = refusal
        for rule, cost in itertools.chain((refused,), rules):
            while True:
                if limited is not None:
                    if waited + limited.retry_after > MAX_HELD_SECONDS:
                        return limited
                    await asyncio.sleep(limited.retry_after)
                    waited += limited.retry_after
                try:
                    await self._throttle.hit(rule, self._address, cost)
                    limited = None
                    break
                except RateLimited as again:
                    # close() cancels this wait, but a cancel that arrives while a Redis
                    # reply does is lost: redis-py writes each command under
                    # `asyncio.wait_for`, which on Python 3.11 returns the result and drops
                    # the cancel (gh-86296). Such waits went on after their sockets had
                    # gone, hitting Redis every second for up to MAX_HELD_SECONDS: 20 s of
                    # an outside probe's socket churn left 203-254 of them, and 5,032-11,255
                    # rate-limit round trips (2.4-3.8 s of CPU) in the minute after, with
                    # no socket open (none now).
                    if self._closed:
                        raise asyncio.CancelledError from None
                    limited = again
        return None


def message_size(message: Message) -> int:
    """A message's size in bytes, a text frame's in UTF-8: what the size limits count."""
    text = message.get("text")
    if text is None:
        return len(message.get("bytes") or b"")
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
