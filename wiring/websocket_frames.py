"""The WebSocket protocol `serve` and `api` run: wiring/websocket_backlog.py's, with the
frames that are not whole messages bounded per connection and, with rate limits on, per
client address (protection/frame_budgets.py).

The message limits (protection/websocket_guard.py) count what reaches the app: whole
messages, after which uvicorn stops reading until the app has taken them. PING and PONG
frames, and the pieces of a fragmented message, never reach it, and uvicorn parses every
frame of each read in Python on the event loop. An outside probe sent empty PINGs (6
bytes each) as fast as one socket took them, about 1 MB/s: another client's
`{ __typename }` took 9.8 s, and empty continuation frames of a message never finished
did the same (12.7 s).

Here each such frame takes a token from the connection's frame budget (a burst, then a
steady rate: protection/websocket_guard.py's MessageBudget); a connection out of tokens
is closed with 1013 and nothing more it sent is parsed. A read is parsed in slices of
READ_SLICE bytes, so that a flood stops within a slice of being found, not at the end
of a 256 KB read.

Whole messages are parsed only while the app takes them: uvicorn stops reading the
socket at a message the app has not taken, but what it had read was parsed all the
same. 256 KB of empty text frames (43,690 messages in one read) cost 0.3 s of the event
loop a socket, and three sockets a second held another client at p50 0.3-0.6 s (a
re-check probe). Past a slice that leaves the app a message to take, the rest of the
read waits, unparsed, until the app takes it (`receive`) or closes (`send`). Once the
app has closed, uvicorn reads on only for the client's close frame: any other frame then
ends the connection at once. A token each had let 1,000 compressed frames be inflated
after the close, 128 KB each, when compression is on (a re-check probe: p99 0.6-0.8 s
for another client).
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any, cast

from websockets.frames import Frame

from protection.config import EdgeLimits
from protection.frame_budgets import FrameBudgets
from protection.unsent_budget import UnsentBudget
from protection.websocket_guard import MessageBudget
from wiring.websocket_backlog import BacklogBoundWebSocketProtocol

# A client's own: a keepalive PING every 20 s or so (browsers send none), and a message
# of up to 128 KB (INKWELL_MAX_WS_MESSAGE_BYTES) in pieces of a few KB at most.
FRAMES_BURST = 1_000
FRAMES_PER_SECOND = 100.0
READ_SLICE = 4096  # at most 682 empty frames: a few ms of parsing
FLOODING = "the client sent too many control or continuation frames"


def bounded_websocket_protocol(
    edge: EdgeLimits,
    unsent_budget: UnsentBudget | None = None,
    frame_budgets: FrameBudgets | None = None,
) -> type[asyncio.Protocol]:
    """What `uvicorn.run(ws=...)` takes; a partial of a module-level class, so that
    `api --workers` can pickle it, as wiring/http_protocol.py's (with the same budget,
    so that each worker counts its own HTTP connections and WebSockets together).
    `frame_budgets`: each address's, over its sockets (none: per socket only)."""
    factory = partial(
        FrameBoundWebSocketProtocol,
        max_unsent_bytes=edge.max_response_bytes,
        unsent_budget=unsent_budget,
        frame_budgets=frame_budgets,
    )
    return cast("type[asyncio.Protocol]", factory)  # uvicorn only ever calls it


class FrameBoundWebSocketProtocol(BacklogBoundWebSocketProtocol):
    def __init__(
        self, *args: Any, frame_budgets: FrameBudgets | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.frame_budget = MessageBudget(FRAMES_BURST, FRAMES_PER_SECOND)
        self.frame_budgets = frame_budgets
        self.address_frame_budget: MessageBudget | None = None  # its address's, shared
        self.flooded = False  # closed for it: nothing more it sends is parsed
        self.unparsed = b""  # read while the app had a message to take

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.frame_budgets is not None and self.client is not None:
            self.address_frame_budget = self.frame_budgets.of(self.client[0])

    def data_received(self, data: bytes) -> None:
        """Reading resumed by a close (to read the client's reply) parses what waited too."""
        if self.flooded:
            return
        if self.read_paused:
            self.unparsed += data
            return
        if self.unparsed:
            data, self.unparsed = self.unparsed + data, b""
        self._parse(data)

    async def receive(self) -> Any:
        """The app takes a message; uvicorn reads the socket again once it has taken them
        all, and what was read meanwhile is parsed first."""
        message = await super().receive()
        self._parse_unparsed()
        return message

    async def send(self, message: Any) -> None:
        """The app's close makes uvicorn read again, for the client's close frame: it may
        be waiting unparsed, behind other frames of the same read. Left there, it was read
        only when more came, and the connection stayed open for uvicorn's 10 s close
        timeout (a re-check probe)."""
        await super().send(message)
        self._parse_unparsed()

    def _parse_unparsed(self) -> None:
        if self.unparsed and not self.read_paused and not self.flooded:
            unparsed, self.unparsed = self.unparsed, b""
            self._parse(unparsed)

    def _parse(self, data: bytes) -> None:
        """In slices, until the app has a message to take; the rest waits in `unparsed`."""
        whole = memoryview(data)
        for start in range(0, len(data), READ_SLICE):
            if self.flooded:
                return
            if self.read_paused:
                self.unparsed = bytes(whole[start:])
                return
            super().data_received(bytes(whole[start : start + READ_SLICE]))

    def handle_ping(self) -> None:
        if self._spent():
            self.conn.data_to_send()  # the PONG websockets queued: not sent
            return
        super().handle_ping()

    def handle_pong(self, event: Frame) -> None:
        if not self._spent():
            super().handle_pong(event)

    def handle_cont(self, event: Frame) -> None:
        if not self._spent():
            super().handle_cont(event)

    def handle_text(self, event: Frame) -> None:
        if self._free(event) or not self._spent():
            super().handle_text(event)

    def handle_bytes(self, event: Frame) -> None:
        if self._free(event) or not self._spent():
            super().handle_bytes(event)

    def _free(self, event: Frame) -> bool:
        """A whole message is the message limits' while the app reads."""
        return event.fin and not self.close_sent

    def _spent(self) -> bool:
        """Takes a token for a frame that is not a whole message; True (and the socket
        closed) when there was none left, when the app has closed (only the client's close
        frame is read then), or when the socket is closed already."""
        if self.behind:
            return True
        shared = self.address_frame_budget
        if not self.close_sent and self.frame_budget.take() and (shared is None or shared.take()):
            return False
        self.flooded = True
        self._close_behind(FLOODING)
        self.transport.close()  # once the close frame is written; no more reading
        return True
