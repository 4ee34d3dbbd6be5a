"""HTTP requests in progress per client address are capped (protection/requests_at_once.py):
past the cap an address's next request waits for one of its own to be answered, so one
client cannot have the process build hundreds of answers at once; other addresses and
/health never wait behind it."""

from __future__ import annotations

import asyncio
import json
import socket
from contextlib import ExitStack

import httpx2 as httpx
from starlette.types import Receive, Scope, Send

from harness.server_process import ServerProcess
from protection.requests_at_once import RequestsAtOnce
from tests.support.api import http_api
from tests.support.processes import projector_of
from tests.support.protected_server import StartServer

REGISTER = 'mutation { registerUser(input: {name: "Writer %d"}) { user { name } } }'
TYPENAME = b"GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nHost: localhost\r\n\r\n"


class Busy:
    """An app whose answers take a while, counting how many are in progress at once."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self.release = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            if scope["path"] != "/health":
                await self.release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
        finally:
            self.now -= 1


def client(app: RequestsAtOnce, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 1234))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_an_address_past_the_cap_waits_for_its_own_and_no_one_else_does() -> None:
    busy = Busy()
    app = RequestsAtOnce(busy, cap=3)
    async with client(app, "10.0.0.1") as flooding, client(app, "10.0.0.2") as other:
        flood = [asyncio.create_task(flooding.get("/graphql")) for _ in range(10)]
        await asyncio.sleep(0.1)
        assert busy.now == 3  # seven wait
        health = await asyncio.wait_for(flooding.get("/health"), 2)
        assert health.status_code == 200
        others = [asyncio.create_task(other.get("/graphql")) for _ in range(3)]
        await asyncio.sleep(0.1)
        assert busy.now == 6  # the other address is not queued behind the first
        busy.release.set()
        answers = await asyncio.gather(*flood, *others)
    assert [answer.status_code for answer in answers] == [200] * 13
    assert busy.most == 6
    assert not app._places  # every address's entry goes with its last request


async def test_without_a_cap_nothing_waits() -> None:
    busy = Busy()
    app = RequestsAtOnce(busy, cap=None)
    async with client(app, "10.0.0.1") as flooding:
        flood = [asyncio.create_task(flooding.get("/graphql")) for _ in range(10)]
        await asyncio.sleep(0.1)
        assert busy.now == 10
        busy.release.set()
        await asyncio.gather(*flood)


def test_requests_waiting_for_the_read_models_hold_their_addresss_places_only(
    start_server: StartServer,
) -> None:
    """With the projector paused, two mutations wait for the read models to show their
    write (read-your-writes) and hold an address's two places: its third request waits,
    another address is answered meanwhile, and all three are answered once the
    projector goes on."""
    server = start_server(
        INKWELL_MAX_REQUESTS_AT_ONCE_PER_ADDRESS="2", INKWELL_CONSISTENCY_TIMEOUT="30"
    )
    http_api(server).register("Ann")  # the projector is up and has caught up
    projector = projector_of(server)
    projector.suspend()
    try:
        with ExitStack() as stack:
            writes = [stack.enter_context(connect(server)) for _ in range(2)]
            for number, connection in enumerate(writes):
                connection.sendall(post(REGISTER % number))
            # Both wait for the read models: in progress from now on.
            assert all(not_answered_within(connection, 1) for connection in writes)
            third = stack.enter_context(connect(server))
            third.sendall(TYPENAME)
            assert not_answered_within(third, 2)
            with connect(server, "127.0.0.2") as other:
                other.sendall(TYPENAME)
                assert read_status(other) == 200
            projector.resume()
            assert [read_status(c) for c in (*writes, third)] == [200, 200, 200]
    finally:
        projector.resume()


def connect(server: ServerProcess, source: str = "127.0.0.1") -> socket.socket:
    return socket.create_connection(
        ("127.0.0.1", server.port), timeout=20, source_address=(source, 0)
    )


def post(query: str) -> bytes:
    body = json.dumps({"query": query}).encode()
    head = (
        "POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def not_answered_within(connection: socket.socket, seconds: float) -> bool:
    connection.settimeout(seconds)
    try:
        connection.recv(1)
    except TimeoutError:
        return True
    finally:
        connection.settimeout(20)
    return False


def read_status(connection: socket.socket) -> int:
    head = b""
    while b"\r\n" not in head:
        chunk = connection.recv(4096)
        assert chunk, "closed without an answer"
        head += chunk
    return int(head.split(b" ", 2)[1])


def test_requests_whose_clients_left_give_up_their_places_and_their_waits(
    start_server: StartServer,
) -> None:
    """Abandoned, they kept their places: 256 connections that each sent a
    read-your-writes query and closed held their address's next request 44 s, as they
    went through its 32 places 32 at a time, each to its full wait (a re-check probe).
    The ones still queued now give up at once, and so do the two in its places, which
    waited out the read models' timeout (10 s here) for nobody: all are logged 499, each
    well within the timeout (the oldest began about 0.5 s before its client left)."""
    # `api` projects nothing: a position of the log is never reached, each wait runs out.
    server = start_server(
        "api", INKWELL_MAX_REQUESTS_AT_ONCE_PER_ADDRESS="2", INKWELL_CONSISTENCY_TIMEOUT="10"
    )
    registered = http_api(server).ok('mutation { registerUser(input: {name: "Bob"}) { position } }')
    unreached = str(registered["registerUser"]["position"])
    with ExitStack() as stack:
        for number in range(12):
            connection = stack.enter_context(connect(server))
            connection.sendall(
                b"GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nHost: localhost\r\n"
                b"X-Consistent-With: " + unreached.encode() + b"\r\n"
                b"X-Request-Id: left-%d\r\n\r\n" % number
            )
        assert not_answered_within(connection, 0.5)
    with connect(server) as fresh:
        fresh.sendall(TYPENAME)
        assert read_status(fresh) == 200
    lines = [json.loads(line) for line in server.log.read_text().splitlines() if line[:1] == "{"]
    left = [line for line in lines if str(line.get("request_id", "")).startswith("left-")]
    given_up = [line for line in left if line["status"] == 499 and line["duration_ms"] < 3000]
    assert len(given_up) == 12, left
