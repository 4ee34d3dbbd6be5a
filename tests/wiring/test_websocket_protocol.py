"""The WebSocket transport joins the frames of one turn of the event loop into few writes,
without reordering, delaying past the turn, or writing after the socket closed."""

from __future__ import annotations

import asyncio

from wiring.websocket_protocol import FRAMES_PER_WRITE, TurnJoinedTransport


class Socket(asyncio.Transport):
    """The transport underneath: each write recorded as the one system call it would be."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closing = False
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = self.aborted = True


def joined(socket: Socket) -> TurnJoinedTransport:
    return TurnJoinedTransport(socket, asyncio.get_running_loop())


async def test_the_frames_of_one_turn_go_out_in_one_write_at_its_end() -> None:
    socket = Socket()
    transport = joined(socket)
    for frame in (b"one", b"two", b"three"):
        transport.write(frame)
    assert socket.writes == [], "held until the turn ends"
    await asyncio.sleep(0)
    assert socket.writes == [b"onetwothree"]
    transport.write(b"four")
    await asyncio.sleep(0)
    assert socket.writes == [b"onetwothree", b"four"], "the next turn writes again"


async def test_a_write_carries_at_most_frames_per_write_frames_in_order() -> None:
    socket = Socket()
    transport = joined(socket)
    frames = [b"%03d," % n for n in range(2 * FRAMES_PER_WRITE + 3)]
    for frame in frames:
        transport.write(frame)
    assert len(socket.writes) == 2, "each full join is written at once"
    await asyncio.sleep(0)
    assert [len(write) // 4 for write in socket.writes] == [FRAMES_PER_WRITE] * 2 + [3]
    assert b"".join(socket.writes) == b"".join(frames)


async def test_closing_writes_what_is_held_first_and_aborting_drops_it() -> None:
    closed, aborted = Socket(), Socket()
    for socket, end in ((closed, TurnJoinedTransport.close), (aborted, TurnJoinedTransport.abort)):
        transport = joined(socket)
        transport.write(b"goodbye")
        end(transport)
        await asyncio.sleep(0)
        assert socket.closing
    assert closed.writes == [b"goodbye"]
    assert aborted.writes == [] and aborted.aborted


async def test_nothing_is_written_to_a_socket_that_closed_meanwhile() -> None:
    socket = Socket()
    transport = joined(socket)
    transport.write(b"late")
    socket.closing = True  # the peer went away within the turn
    await asyncio.sleep(0)
    assert socket.writes == []
    assert transport.is_closing()
