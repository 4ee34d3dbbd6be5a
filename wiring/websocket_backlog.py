"""The WebSocket protocol `serve` and `api` run: wiring/websocket_protocol.py's, with the
bytes a socket holds for a client that does not read bounded.

uvicorn's `send` waits while the transport's write buffer is over its high-water mark
(64 KB), and each operation's answer waits with it, serialized: a client that sent
subscribe messages and read nothing made the server hold every answer. Twelve queries
of a 10 MB page sent a quarter second apart (each under the 16 MB answer limit) grew the
server by 265 MB, held until the client went away. Here a socket's unsent bytes (the
transport's write buffer, and the messages waiting in `send`) may reach
`max_unsent_bytes`, the answer limit: an answer at the limit always goes, as does any
message when nothing is unsent, but a message that would take the unsent bytes over the
limit is not sent. The socket is closed with 1013 (try again later: graphql-ws clients
reconnect on it) instead, and the same twelve queries grow the server by 38 MB:

- the app sees a disconnect at once (the client's messages it has not read yet are
  dropped, so no further operation starts), and strawberry cancels the socket's
  operations. Their waiting and later sends return at once, dropped, as a write to a
  socket the client has left is lost: raising ClientDisconnected made each answer
  already on its way log strawberry's "Exception in worker task" traceback;
- the close frame goes behind what the transport already holds, for a client that reads
  late; if the transport has not written it all within uvicorn's close timeout (10 s),
  the connection is aborted, which drops the buffer (`transport.close()` would keep it
  until the client read it).

The same happens, with the reason ADDRESS_NOT_READING, when the message would take what
the process holds unsent for the socket's client address, over all its WebSockets and
HTTP connections, over that address's budget (protection/unsent_budget.py). For that sum
the frames held for the end of the turn count too.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn._types import ASGISendEvent

from protection.unsent_budget import UnsentAccount, UnsentBudget
from wiring.websocket_protocol import TurnJoinedTransport, TurnJoinedWebSocketProtocol

TRY_AGAIN_LATER = 1013
NOT_READING = "the client is not reading its messages"
ADDRESS_NOT_READING = "this address has too many answers it has not read"


class BacklogBoundWebSocketProtocol(TurnJoinedWebSocketProtocol):
    def __init__(
        self,
        *args: Any,
        max_unsent_bytes: int,
        unsent_budget: UnsentBudget | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_unsent_bytes = max_unsent_bytes
        self.unsent_budget = unsent_budget
        self.account: UnsentAccount | None = None  # in its address's unsent budget
        self.waiting_bytes = 0  # of the messages waiting in `send`
        self.behind = False  # closed because the client did not read

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self.unsent_budget is not None and self.client is not None:
            self.account = self.unsent_budget.account(self.client[0], self._unsent_bytes)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.account is not None:
            self.account.close()
        super().connection_lost(exc)

    def _unsent_bytes(self) -> int:
        """For the address's budget, the frames held for the end of the turn count too."""
        return self.waiting_bytes + self.transport.get_write_buffer_size()

    async def send(self, message: ASGISendEvent) -> None:
        if self.behind:
            return
        if message["type"] != "websocket.send" or not self.handshake_complete:
            await super().send(message)
            return
        size = _size(message)
        if not self._room_for(size):
            return
        self.waiting_bytes += size
        try:
            # Waited for here rather than in uvicorn's `send`, which _close_behind could not
            # wake without it writing the message after the close frame.
            await self.writable.wait()
            if not self.behind:
                await super().send(message)  # writable: writes without waiting
        finally:
            self.waiting_bytes -= size
            if self.account is not None:
                self.account.recount()  # written (or dropped)

    def handle_ping(self) -> None:
        """uvicorn writes the PONG straight to the transport, past `send`: a client that
        sent PINGs and read nothing made the server hold 221 MB of PONGs in 15 s (an
        outside probe). A PONG is held to the same bounds as a message."""
        pong = b"".join(self.conn.data_to_send())
        if self.behind or not self._room_for(len(pong)):
            return
        self.transport.write(pong)
        if self.account is not None:
            self.account.recount()  # in the transport's buffer, or written

    def _room_for(self, size: int) -> bool:
        """Whether `size` bytes more may be sent (and counted in the address's budget);
        if not, the socket is closed. Frames held for the end of the turn are not counted:
        a reading client's mutation answer over the limit, and its `complete` sent in the
        same turn, both go."""
        joined = cast(TurnJoinedTransport, self.transport)
        unsent = self.waiting_bytes + joined.get_unwritten_size()
        if unsent and unsent + size > self.max_unsent_bytes:
            self._close_behind(NOT_READING)
            return False
        if self.account is not None and not self.account.take(size):
            self._close_behind(ADDRESS_NOT_READING)
            return False
        return True

    def _close_behind(self, reason: str) -> None:
        """Closes the socket from under the app, as uvicorn closes it when the app asks."""
        self.behind = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(
            {"type": "websocket.disconnect", "code": TRY_AGAIN_LATER, "reason": reason}
        )
        self.writable.set()  # the waiting sends return
        if self.close_sent or self.transport.is_closing():
            return
        self.conn.send_close(TRY_AGAIN_LATER, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:  # to read the client's close frame
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.abort)


def _size(message: ASGISendEvent) -> int:
    """The bytes of a websocket.send message as uvicorn writes them (text as UTF-8)."""
    data = message.get("bytes")
    if data is not None:
        return len(cast(bytes, data))
    text = cast(str, message.get("text") or "")
    return len(text) if text.isascii() else len(text.encode())
