"""WebSocket limits: the size of each message (1009, Message Too Big) always; with rate
limits on, open connections per address (per process), the rate of subscribe messages
per address, and the rate of all messages, weighed by their size, on a connection and
from an address (per process) (both 1013, Try Again Later).

A subscribe past the rate waits for its turn, the socket read on meanwhile
(protection/subscribe_turns.py).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from functools import partial

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from protection.addresses import bearer_token, client_address
from protection.responses import refuse_handshake, too_many
from protection.subscribe_turns import SubscribeTurns, message_size
from protection.throttle import RateLimited, Throttle, throttle_in

MESSAGE_TOO_BIG = 1009
TRY_AGAIN_LATER = 1013
# Messages of any type on one connection: a burst, then a steady rate. A client's own
# traffic is a ping every few seconds and a subscribe or complete as its views change;
# the burst lets it start and end at once all the operations a connection may hold
# (100, strawberry's max_subscriptions_per_connection).
MESSAGES_BURST = 200
MESSAGES_PER_SECOND = 20.0
# A message counts one more for each this many bytes: reading one costs the event loop in
# proportion to its size (orjson alone 0.1-1.5 ms for 130-144 KB). Counted as one each,
# 50 sockets of one address sending 130 KB pings within the rate held the server's loop
# at a full core and another client's `{ __typename }` at p90 570-680 ms (an outside
# probe): the rate let 1,000 such messages a second through, and the server reads 800.
# On a connection, a message at the default size limit (1 MB, 65) leaves room in its
# burst for the operations around it.
BYTES_PER_MESSAGE = 16 * 1024
# What an address's sockets send is weighed closer: 2 MB at once, then 200 KB a second.
# Weighed as a connection's, an address sent 16 MB at once and 1.6 MB a second, and a
# text the JSON readers take slowly (a 1 MB array of numbers ending in a lone
# surrogate's escape: about 100 ms of the loop a message) held another client at p99
# 0.8-1.7 s from one address, 4.7-5.4 s from three, within every limit (a re-check
# probe).
ADDRESS_BYTES_PER_MESSAGE = 2 * 1024
# What all of an address's sockets may send together, in this process, kept when they
# close: a connection's own budget started full on every new socket. 50 loops from one
# address, each opening a socket, sending four 130 KB pings and waiting for its 1013, made
# 420-460 handshakes in 6 s within the request rate and held another client's
# `{ __typename }` at p99 660 ms (an outside probe). A page's own sockets send a few
# messages a second between them.
ADDRESS_BURST = 1_000
ADDRESS_PER_SECOND = 100.0
# Addresses whose budget is kept before the full ones are forgotten (a full one is as good
# as none).
ADDRESSES_KEPT = 1_024


def message_cost(size: int, block: int = BYTES_PER_MESSAGE) -> int:
    """What a message of `size` bytes counts against a budget that counts one more for
    each `block` bytes (a 1 MB one, 65 of a connection's, 513 of its address's)."""
    return 1 + size // block


class MessageBudget:
    """What one connection (or address) may still send, in messages of the smallest size
    (message_cost). Every message costs the event loop, the smallest ones too: ten
    connections sending pings (or pongs) as fast as they could held other clients'
    answers for up to 4.6 s, where they took 2.5 ms."""

    def __init__(
        self,
        burst: int = MESSAGES_BURST,
        per_second: float = MESSAGES_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._burst = float(burst)
        self._per_second = per_second
        self._clock = clock
        self._tokens = self._burst
        self._last = clock()

    def take(self, cost: int = 1) -> bool:
        self._refill()
        if self._tokens < cost:
            return False
        self._tokens -= cost
        return True

    def full(self) -> bool:
        self._refill()
        return self._tokens >= self._burst

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._per_second)
        self._last = now


class AddressBudgets:
    """Each address's budget (ADDRESS_BURST, ADDRESS_PER_SECOND), kept after its sockets
    close, so that a new socket does not start it full again."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._budgets: dict[str, MessageBudget] = {}

    def __len__(self) -> int:
        return len(self._budgets)

    def of(self, address: str) -> MessageBudget:
        budget = self._budgets.get(address)
        if budget is None:
            if len(self._budgets) >= ADDRESSES_KEPT:
                self._budgets = {a: b for a, b in self._budgets.items() if not b.full()}
            budget = MessageBudget(ADDRESS_BURST, ADDRESS_PER_SECOND, self._clock)
            self._budgets[address] = budget
        return budget


class WebSocketGuard:
    def __init__(self, app: ASGIApp, max_message_bytes: int, max_per_address: int) -> None:
        self.app = app
        self.max_message_bytes = max_message_bytes
        self.max_per_address = max_per_address
        self.open: Counter[str] = Counter()
        self.budgets = AddressBudgets()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        throttle = throttle_in(scope)
        if throttle is not None and self.open[address] >= self.max_per_address:
            limit = self.max_per_address
            await refuse_handshake(
                scope,
                receive,
                send,
                429,
                f"Too many open WebSockets from your address (at most {limit}); close some.",
                {"code": "RATE_LIMITED", "retryAfter": 1, "maxSockets": limit},
                {"retry-after": "1"},
            )
            return
        # Counted before the rate check's round trip to Redis: counted after it, every
        # handshake of a burst passed the cap before any was counted (80 sockets opened
        # at once from one address under a cap of 50, in an outside probe).
        self.open[address] += 1
        try:
            if throttle is not None and (
                limited := await _handshake_limited(throttle, scope, address)
            ):
                await refuse_handshake(scope, receive, send, *too_many(limited))
                return
            guarded = self._guarded(throttle, address, receive, send)
            if throttle is None:
                await self.app(scope, guarded, send)
                return
            refuse = partial(_close, send, TRY_AGAIN_LATER)
            turns = SubscribeTurns(guarded, throttle, address, refuse)
            try:
                await self.app(scope, turns, send)
            finally:
                turns.close()
        finally:
            self.open[address] -= 1
            if not self.open[address]:
                del self.open[address]

    def _guarded(
        self, throttle: Throttle | None, address: str, receive: Receive, send: Send
    ) -> Receive:
        """The socket's messages, each within the size limit and the connection's and the
        address's rates."""
        close = partial(_close, send)
        budget = MessageBudget() if throttle is not None else None
        shared = self.budgets.of(address) if throttle is not None else None

        async def guarded() -> Message:
            message = await receive()
            if message["type"] != "websocket.receive":
                return message
            size = message_size(message)
            if size > self.max_message_bytes:
                return await close(
                    MESSAGE_TOO_BIG, f"messages are limited to {self.max_message_bytes} bytes"
                )
            if budget is None or shared is None:
                return message
            if not budget.take(message_cost(size)):
                return await close(
                    TRY_AGAIN_LATER,
                    f"at most {MESSAGES_PER_SECOND:g} messages a second on a connection "
                    f"(one more for each {BYTES_PER_MESSAGE} bytes of a message)",
                )
            if not shared.take(message_cost(size, ADDRESS_BYTES_PER_MESSAGE)):
                return await close(
                    TRY_AGAIN_LATER,
                    f"at most {ADDRESS_PER_SECOND:g} messages a second from an address "
                    f"(one more for each {ADDRESS_BYTES_PER_MESSAGE} bytes of a message)",
                )
            return message

        return guarded


async def _close(send: Send, code: int, reason: str) -> Message:
    """Closes the socket; what the app then receives."""
    await send({"type": "websocket.close", "code": code, "reason": reason})
    return {"type": "websocket.disconnect", "code": code}


async def _handshake_limited(throttle: Throttle, scope: Scope, address: str) -> RateLimited | None:
    """A handshake is a request, and its bearer token is checked as a request's is
    (protection/request_rate.py): sockets opened and dropped at once, each with a
    guessed token, went uncounted (200 guesses in 0.32 s from one address)."""
    try:
        await throttle.hit(throttle.requests, address)
        token = bearer_token(scope)
        if token is not None and (guessing := throttle.guessing(address)):
            return guessing
        if token is not None and scope["app"].state.services.tokens.verify(token) is None:
            await throttle.hit(throttle.bad_tokens, address)
    except RateLimited as limited:
        return limited
    return None
