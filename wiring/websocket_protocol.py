"""The WebSocket protocol `serve` and `api` run: uvicorn's own, with the frames it writes
in one turn of the event loop joined into few writes to the socket.

A change to a post with 5,000 live subscribers wakes 5,000 senders in one turn, 100 to
a connection (strawberry's limit per connection). Each sent its frame with a write
system call of its own: py-spy put 41% of the serving process's samples in uvicorn's
`send` during those rounds, nearly all of it that write. Here a frame is held until
the turn ends (a `call_soon` scheduled by the first one held) or until FRAMES_PER_WRITE
are held, then the connection's held frames go out in one write, and its client wakes
once to read them. Measured A/B (bench/subscriptions' 5,000 subscribers of one post on
`serve`, old and new alternating, three times): server CPU per round 90-125 to 61-93 ms,
delivery p99 140-187 to 89-149 ms, p50 62-88 to 52-72 ms.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from wiring.handshake_refusals import GraphQLRefusals

# Holding a whole turn's frames (100 a connection) cost the least CPU (52-72 ms a round in
# the same A/B), but each subscriber then waited for the turn's last sender: p50 71-97 ms,
# higher than with a write per frame. Eight to a write keep most of the saving and lower
# both the p50 and the p99.
FRAMES_PER_WRITE = 8
GOING_AWAY = 1001  # RFC 6455 7.4.1


class TurnJoinedTransport(asyncio.Transport):
    """A transport that holds what is written until the end of the loop's turn (or until
    FRAMES_PER_WRITE writes are held), then writes it in one call. Everything else goes
    to the transport it wraps, in order: closing writes what is held first; aborting
    drops it, as an abort drops the transport's own buffer."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []
        self._held_bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._held:
            self._loop.call_soon(self._write_held)
        self._held.append(bytes(data))
        self._held_bytes += len(data)
        if len(self._held) >= FRAMES_PER_WRITE:
            self._write_held()

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def _write_held(self) -> None:
        if self._held:
            data = b"".join(self._held)
            self._held = []
            self._held_bytes = 0
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self._write_held()
        self._transport.close()

    def abort(self) -> None:
        self._held = []
        self._held_bytes = 0
        self._transport.abort()

    def write_eof(self) -> None:
        self._write_held()
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._held_bytes

    def get_unwritten_size(self) -> int:
        """What the socket has not taken: the wrapped transport's buffer, without the
        frames held for the end of this turn (they are written when it ends)."""
        return self._transport.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()


class TurnJoinedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's default WebSocket protocol (websockets' sans-I/O core) on a
    TurnJoinedTransport, refusing handshakes in GraphQL JSON (GraphQLRefusals)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The ServerProtocol uvicorn configured, with GraphQLRefusals' `reject`: a
        # subclass that adds one method and no state.
        self.conn.__class__ = GraphQLRefusals

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # cast, as uvicorn does: uvloop's transports are not asyncio.Transport subclasses
        super().connection_made(TurnJoinedTransport(cast(asyncio.Transport, transport), self.loop))

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self.handshake_initiated and not self.transport.is_closing():
            refusal = cast(GraphQLRefusals, self.conn).unparsable()
            if refusal is not None:
                self.transport.write(refusal)
                self.transport.close()

    def keepalive_timeout(self) -> None:
        """A peer that stopped answering pings: uvicorn closed its socket with 1011
        (internal error), which graphql-ws takes as fatal and never retries, whatever its
        `shouldRetry`: a tab whose network dropped for 30 s got its close once back, and
        every subscription ended for good (an outside probe). The server goes away from a
        peer it no longer hears: 1001, after which clients connect again."""
        self.pong_timer = None
        self.pending_ping_payload = None
        if self.close_sent or self.transport.is_closing():
            return
        self.conn.fail(GOING_AWAY, "keepalive ping timeout")
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.transport.close()

    async def send(self, message: ASGISendEvent) -> None:
        """A handshake refused with an HTTP answer (429, 403, 431: protection/responses.py)
        is answered, as one refused by closing is: uvicorn marks only the latter, and logged
        "ASGI callable returned without completing handshake." at ERROR for every refusal
        (103,267 ERROR lines in 30 s of handshakes from one address over its rate)."""
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            self.handshake_complete = True


