"""Open HTTP connections per client address are capped (protection/connection_cap.py):
past the cap a connection is refused as it opens, so one client cannot take every file
descriptor the server has; other addresses, upgraded WebSockets and trusted proxies are
not held back by it."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import websockets
from websockets.typing import Subprotocol

from harness.server_process import ServerProcess
from protection.connection_cap import ConnectionsPerAddress
from tests.support.protected_server import StartServer
from tests.support.waiting import until_true

CAP = {"INKWELL_MAX_CONNECTIONS_PER_ADDRESS": "20"}
GET = b"GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nHost: localhost\r\n\r\n"


def test_the_cap_counts_each_address_apart_and_frees_a_place_on_close() -> None:
    cap = ConnectionsPerAddress(2)
    assert cap.open("10.0.0.1") and cap.open("10.0.0.1")
    assert not cap.open("10.0.0.1")
    assert cap.open("10.0.0.2")
    cap.close("10.0.0.1")
    assert cap.open("10.0.0.1")


def test_trusted_proxies_are_not_capped() -> None:
    cap = ConnectionsPerAddress(1, "10.1.0.0/16, 192.168.0.7")
    assert all(cap.open(address) for address in ["10.1.2.3"] * 5 + ["192.168.0.7"] * 5)
    assert cap.open("10.2.0.1") and not cap.open("10.2.0.1")
    everyone = ConnectionsPerAddress(1, "*")
    assert all(everyone.open("10.2.0.1") for _ in range(5))


def test_a_connection_past_the_cap_is_refused_as_it_opens(start_server: StartServer) -> None:
    server = start_server(**CAP)
    with held_connections(server, 20) as held:
        status, headers, body = refusal(connect(server))
        assert status == 429
        assert headers["retry-after"] == "1"
        assert body["errors"][0]["extensions"] == {
            "code": "RATE_LIMITED",
            "retryAfter": 1,
            "maxConnections": 20,
        }
        held.pop().close()
        until_true(lambda: served(server), timeout=10)


def test_another_address_is_served_while_one_is_at_the_cap(start_server: StartServer) -> None:
    server = start_server(**CAP)
    with held_connections(server, 20):
        assert refusal(connect(server))[0] == 429
        assert served(server, source="127.0.0.2")


def test_an_upgraded_websocket_leaves_the_count(start_server: StartServer) -> None:
    """WebSockets have a cap of their own (INKWELL_MAX_WS_PER_ADDRESS); counted here
    too, and never let go, each would have taken a place for good."""
    server = start_server(INKWELL_MAX_CONNECTIONS_PER_ADDRESS="5")

    async def sockets_then_requests() -> None:
        url = f"ws://127.0.0.1:{server.port}/graphql"
        protocols = [Subprotocol("graphql-transport-ws")]
        opened = [await websockets.connect(url, subprotocols=protocols) for _ in range(8)]
        for socket_ in opened:
            await socket_.send(json.dumps({"type": "connection_init"}))
            assert json.loads(await socket_.recv()) == {"type": "connection_ack"}
        with held_connections(server, 5):
            pass
        for socket_ in opened:
            await socket_.close()

    asyncio.run(sockets_then_requests())


def test_a_trusted_proxy_carries_more_than_the_cap(start_server: StartServer) -> None:
    server = start_server(
        INKWELL_MAX_CONNECTIONS_PER_ADDRESS="5", INKWELL_TRUSTED_PROXIES="127.0.0.1"
    )
    with held_connections(server, 12):
        pass


def test_without_rate_limits_there_is_no_cap(start_server: StartServer) -> None:
    server = start_server(INKWELL_MAX_CONNECTIONS_PER_ADDRESS="5", INKWELL_RATE_LIMITS="off")
    with held_connections(server, 12):
        pass


def connect(server: ServerProcess, source: str = "127.0.0.1") -> socket.socket:
    return socket.create_connection(
        ("127.0.0.1", server.port), timeout=10, source_address=(source, 0)
    )


@contextmanager
def held_connections(server: ServerProcess, count: int) -> Iterator[list[socket.socket]]:
    """`count` kept-alive connections, each answered once (so the server has them all)."""
    with ExitStack() as stack:
        held = []
        for _ in range(count):
            connection = stack.enter_context(connect(server))
            assert answered(connection)
            held.append(connection)
        yield held


def served(server: ServerProcess, source: str = "127.0.0.1") -> bool:
    """Whether a new connection from `source` gets a GET answered; closed after."""
    with connect(server, source) as connection:
        return answered(connection)


def answered(connection: socket.socket) -> bool:
    """Whether a GET on the connection is answered 200; the connection stays open."""
    try:
        connection.sendall(GET)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = connection.recv(65536)
            if not chunk:
                return False
            head += chunk
    except OSError:
        return False
    return head.startswith(b"HTTP/1.1 200")


def refusal(
    connection: socket.socket,
) -> tuple[int, dict[str, str], dict[str, list[dict[str, object]]]]:
    """The answer the server writes and closes with, read without sending anything."""
    answer = b""
    while chunk := connection.recv(65536):
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split(" ")[1]), headers, json.loads(body)
