"""WebSocket frames that are not whole messages (PING, PONG, the pieces of a fragmented
message) are bounded per connection (wiring/websocket_frames.py), and the PONGs the
server owes a client that does not read are bounded with its answers
(wiring/websocket_backlog.py). An outside probe's empty PINGs at about 1 MB/s on one
socket held another client's `{ __typename }` for 9.8 s, and PINGs never read made
the server hold 221 MB of PONGs in 15 s."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import socket
import struct
from typing import Any

import httpx2 as httpx
import pytest
import websockets
from websockets.typing import Subprotocol

from harness.server_process import ServerProcess
from infra.settings import Settings
from tests.support.protected_server import StartServer
from tests.support.served_app import served
from wiring.websocket_backlog import NOT_READING, TRY_AGAIN_LATER
from wiring.websocket_frames import FLOODING, FRAMES_BURST, READ_SLICE, FrameBoundWebSocketProtocol

PING, PONG, CLOSE, TEXT, CONT = 0x9, 0xA, 0x8, 0x1, 0x0


def frame(opcode: int, payload: bytes = b"", *, fin: bool = True) -> bytes:
    """A client's frame: masked, as RFC 6455 requires of clients."""
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    assert len(payload) < 126
    return bytes([(0x80 if fin else 0) | opcode, 0x80 | len(payload)]) + mask + masked


def opened(url: str, receive_buffer: int | None = None) -> socket.socket:
    """A raw socket past the WebSocket handshake and graphql-transport-ws's init, to the
    server at `url` (http:// or ws://)."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    raw = socket.socket()
    if receive_buffer is not None:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    raw.settimeout(15)
    raw.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall(
        (
            f"GET /graphql HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += raw.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    raw.sendall(frame(TEXT, b'{"type":"connection_init"}'))
    return raw


def frames_until_close(raw: socket.socket) -> list[tuple[int, bytes]]:
    """Every frame the server sends, up to its close frame (or the connection's end)."""
    data = b""
    found: list[tuple[int, bytes]] = []
    while True:
        while (parsed := _first_frame(data)) is not None:
            opcode, payload, data = parsed
            found.append((opcode, payload))
            if opcode == CLOSE:
                return found
        if not (chunk := raw.recv(65536)):
            return found
        data += chunk


def _first_frame(data: bytes) -> tuple[int, bytes, bytes] | None:
    """The whole frame at the start of `data` (a server's frames are not masked): its
    opcode, its payload, and what follows it."""
    if len(data) < 2:
        return None
    length, start = data[1] & 0x7F, 2
    if length == 126:
        if len(data) < 4:
            return None
        length, start = struct.unpack("!H", data[2:4])[0], 4
    if len(data) < start + length:
        return None
    return data[0] & 0x0F, data[start : start + length], data[start + length :]


def close_of(frames: list[tuple[int, bytes]]) -> tuple[int, str]:
    payload = next(payload for opcode, payload in frames if opcode == CLOSE)
    return struct.unpack("!H", payload[:2])[0], payload[2:].decode()


@pytest.fixture
def server(start_server: StartServer) -> ServerProcess:
    return start_server()


def still_serves(server: ServerProcess) -> None:
    answer = httpx.post(f"{server.url}/graphql", json={"query": "{ __typename }"}, timeout=10)
    assert answer.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    "flood",
    [
        [frame(PING)] * (3 * FRAMES_BURST),
        [frame(PONG)] * (3 * FRAMES_BURST),
        [frame(TEXT, b"{", fin=False)] + [frame(CONT, fin=False)] * (3 * FRAMES_BURST),
    ],
    ids=["pings", "pongs", "pieces of a message never finished"],
)
def test_a_flood_of_frames_that_are_no_message_closes_the_socket(
    server: ServerProcess, flood: list[bytes]
) -> None:
    with opened(server.url) as raw:
        raw.sendall(b"".join(flood))
        frames = frames_until_close(raw)
    assert close_of(frames) == (TRY_AGAIN_LATER, FLOODING)
    pongs = sum(opcode == PONG for opcode, _ in frames)
    assert pongs <= FRAMES_BURST + READ_SLICE // 6  # none past the slice that spent it
    still_serves(server)


def test_an_addresss_sockets_share_one_frame_budget(server: ServerProcess) -> None:
    """A new socket's own budget starts full, its address's does not: 50 sockets each
    sending a message in 986 pieces, reconnecting, held another client at p99 125-221 ms
    (an outside probe)."""
    within_one_socket = [frame(PING)] * (FRAMES_BURST * 9 // 10)
    with opened(server.url) as first:
        first.sendall(b"".join(within_one_socket))
        first.sendall(frame(CLOSE, struct.pack("!H", 1000)))
        frames = frames_until_close(first)
    assert sum(opcode == PONG for opcode, _ in frames) == len(within_one_socket)
    assert close_of(frames)[0] == 1000
    with opened(server.url) as second:
        second.sendall(b"".join(within_one_socket))
        assert close_of(frames_until_close(second)) == (TRY_AGAIN_LATER, FLOODING)
    still_serves(server)


async def test_a_client_pinging_within_the_budget_is_answered_and_kept(
    server: ServerProcess,
) -> None:
    url = server.url.replace("http", "ws", 1) + "/graphql"
    async with websockets.connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send('{"type":"connection_init"}')
        assert await ws.recv() == '{"type":"connection_ack"}'
        for _ in range(5):  # a burst each second, well within the steady rate
            waiters = [await ws.ping() for _ in range(50)]
            await asyncio.wait_for(asyncio.gather(*waiters), 10)
            await asyncio.sleep(0.2)
        await ws.send('{"type":"ping"}')
        assert await ws.recv() == '{"type":"pong"}'


async def test_pongs_a_client_does_not_read_are_bounded_like_its_answers(
    settings: Settings,
) -> None:
    """The server's PONGs to a client that reads nothing wait in its buffer: past
    INKWELL_MAX_RESPONSE_BYTES the socket is closed, as for answers. Loopback's send
    buffer grows to megabytes, more than the frame budget's PINGs can fill, so the
    server's socket is given a small one, as a slow link would."""
    limited = dataclasses.replace(
        settings, edge=dataclasses.replace(settings.edge, max_response_bytes=4096)
    )
    async with served(limited) as running:
        raw = await asyncio.to_thread(opened, running.url, 4096)  # the server is in this loop
        protocol = next(
            c for c in running.connections if isinstance(c, FrameBoundWebSocketProtocol)
        )
        protocol.transport.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDBUF, 4096
        )
        raw.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(raw, frame(PING, b"p" * 125) * (FRAMES_BURST // 2))
        for _ in range(200):
            if protocol.behind:
                break
            await asyncio.sleep(0.05)
        assert protocol.behind
        raw.setblocking(True)
        frames = await asyncio.to_thread(frames_until_close, raw)
        raw.close()
    assert close_of(frames) == (TRY_AGAIN_LATER, NOT_READING)


async def test_whole_messages_are_parsed_only_as_the_app_takes_them(settings: Settings) -> None:
    """256 KB of empty text frames is 43,690 messages in one read: uvicorn stopped reading
    at the first the app had not taken, but parsed the whole read, 0.3 s of the event loop
    a socket (a re-check probe). Now the read waits while the app has a message to take;
    the app closes at the first (not JSON), and what uvicorn reads on for the client's
    close frame counts against the frame budget: a burst and two slices at most."""
    async with served(settings) as running:
        raw = await asyncio.to_thread(opened, running.url)
        protocol = next(
            c for c in running.connections if isinstance(c, FrameBoundWebSocketProtocol)
        )
        texts: list[int] = []
        handle_text = protocol.handle_text

        def counted(event: Any) -> None:
            texts.append(1)
            handle_text(event)

        protocol.handle_text = counted  # type: ignore[method-assign]
        await asyncio.to_thread(raw.recv, 4096)  # connection_ack: init was taken
        await asyncio.get_running_loop().sock_sendall(raw, frame(TEXT) * 43_690)
        frames = await asyncio.to_thread(frames_until_close, raw)
        raw.close()
    assert close_of(frames)[0] == 4400  # the app's answer to the first
    # Past the app's close, each is a frame of the budget: at most a burst and a slice.
    assert len(texts) <= FRAMES_BURST + 2 * (READ_SLICE // 6), len(texts)


def test_a_close_frame_behind_other_frames_is_read_when_the_app_closes(
    server: ServerProcess,
) -> None:
    """The client's close frame waited unparsed behind 8 KB of messages when the app had
    closed first, until more came: the connection stayed open for uvicorn's 10 s close
    timeout (a re-check probe). The socket times out at 5 s."""
    with opened(server.url) as raw:
        raw.settimeout(5)
        assert b"connection_ack" in raw.recv(4096)
        pings = frame(TEXT, b'{"type":"ping"}') * 400
        raw.sendall(frame(TEXT, b"not JSON") + pings + frame(CLOSE, struct.pack("!H", 1000)))
        frames = frames_until_close(raw)
        assert close_of(frames)[0] == 4400  # the app's answer to the first
        while raw.recv(65536):  # then the server ends the connection, without a wait
            pass
