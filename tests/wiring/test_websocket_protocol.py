"""The WebSocket transport joins the frames of one turn of the event loop into few writes,
without reordering, delaying past the turn, writing after the socket closed, or hiding
a client that stops reading from flow control."""

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


def joined(transport: asyncio.Transport) -> TurnJoinedTransport:
    return TurnJoinedTransport(transport, asyncio.get_running_loop())


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


class Recorder(asyncio.Protocol):
    """The server side of a real loopback connection: records flow control."""

    def __init__(self) -> None:
        self.transport: TurnJoinedTransport | None = None
        self.paused = asyncio.Event()
        self.resumed = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = joined(transport)

    def pause_writing(self) -> None:
        self.paused.set()

    def resume_writing(self) -> None:
        self.resumed.set()


async def test_a_client_that_stops_reading_pauses_the_writer_and_loses_nothing() -> None:
    """Flow control still reaches the protocol through the wrapper: frames held and then
    written pile up in the real transport, which pauses its protocol; the client, reading
    again, gets every byte in order."""
    protocol = Recorder()
    server = await asyncio.get_running_loop().create_server(lambda: protocol, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while protocol.transport is None:
        await asyncio.sleep(0.01)
    frames = [bytes([n % 251]) * 65_536 for n in range(512)]  # 32 MiB, more than buffers hold
    for start in range(0, len(frames), FRAMES_PER_WRITE):
        for frame in frames[start : start + FRAMES_PER_WRITE]:
            protocol.transport.write(frame)
        await asyncio.sleep(0)
        if protocol.paused.is_set():
            break
    assert protocol.paused.is_set(), "the client reads nothing: the writer must be paused"
    sent = b"".join(frames[: start + FRAMES_PER_WRITE])
    received = await asyncio.wait_for(reader.readexactly(len(sent)), timeout=30)
    await asyncio.wait_for(protocol.resumed.wait(), timeout=10)
    assert received == sent
    writer.close()
    protocol.transport.close()
    server.close()
    await server.wait_closed()
