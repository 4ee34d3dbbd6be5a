"""What one client address may leave the server holding unsent, over all its HTTP
connections and WebSockets together, is bounded (protection/unsent_budget.py): past the
budget the connection whose answer would go over it is closed, and other addresses, and
clients that read, are served as before."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager

import httpx2 as httpx
import psutil
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from harness.server_process import ServerProcess
from protection.unsent_budget import UnsentBudget
from tests.support.long_posts import PAGE, POSTS, SEEDING_WRITES, publish_long_posts
from tests.support.protected_server import StartServer
from wiring.websocket_backlog import ADDRESS_NOT_READING, TRY_AGAIN_LATER

MB = 1024 * 1024
BUDGET = 32 * MB  # three 10 MB pages
ASKING = 16  # connections that ask for a page each and read nothing
OTHER = "127.0.0.2"


class Unsent:
    """A connection's unsent bytes, as the test sets them."""

    def __init__(self) -> None:
        self.bytes = 0

    def __call__(self) -> int:
        return self.bytes


def test_an_address_is_counted_over_its_connections_and_apart_from_others() -> None:
    budget = UnsentBudget(100)
    first, second, elsewhere = Unsent(), Unsent(), Unsent()
    one = budget.account("10.0.0.1", first)
    two = budget.account("10.0.0.1", second)
    other = budget.account("10.0.0.2", elsewhere)
    assert one is not None and two is not None and other is not None
    assert one.take(70)
    first.bytes = 70  # waiting to be written
    assert not two.take(40)
    assert two.take(30)
    second.bytes = 30
    assert other.take(100)
    assert budget.held("10.0.0.1") == 100
    one.close()
    assert budget.held("10.0.0.1") == 30


def test_bytes_the_client_has_read_since_its_last_write_do_not_count() -> None:
    """Counts are taken as a connection writes; before a refusal, all are taken again."""
    budget = UnsentBudget(100)
    reading, asking = Unsent(), Unsent()
    held = budget.account("10.0.0.1", reading)
    new = budget.account("10.0.0.1", asking)
    assert held is not None and new is not None
    assert held.take(90)
    reading.bytes = 90  # written, in the connection's buffer
    held.recount()
    reading.bytes = 0  # the client read it all; the connection has not written since
    assert budget.held("10.0.0.1") == 90
    assert new.take(60)
    assert budget.held("10.0.0.1") == 60


def test_anything_goes_while_the_address_holds_nothing() -> None:
    """As on one WebSocket: a budget set below the answer limit still lets an answer go."""
    budget = UnsentBudget(10)
    account = budget.account("10.0.0.1", Unsent())
    assert account is not None and account.take(50)


def test_a_trusted_proxys_connections_are_not_counted() -> None:
    budget = UnsentBudget(10, "10.1.0.0/16")
    assert budget.account("10.1.2.3", Unsent()) is None
    assert budget.account("10.2.0.1", Unsent()) is not None


def test_an_address_that_does_not_read_is_held_to_its_budget_and_others_are_served(
    start_server: StartServer,
) -> None:
    """Sixteen connections that each asked for a 10 MB page, one after another, and read
    nothing: all sixteen answers were held, and a socket's from the same address too, until
    the client left; the server grew by 178 MB. Now the first four are held and the rest
    closed without their answer, and so is the socket (the server grew by 73 MB); another
    address is answered the same page over HTTP and over a socket."""
    server = start_server(INKWELL_MAX_UNSENT_BYTES_PER_ADDRESS=str(BUDGET), **SEEDING_WRITES)
    publish_long_posts(server)
    assert server.process is not None
    memory = psutil.Process(server.process.pid)
    before = memory.memory_info().rss
    with _asking(server, ASKING) as started:
        assert started[0], "the first answer was not sent"
        refused = started.count(False)
        assert refused >= 3, f"{ASKING - refused} of {ASKING} answers held"
        grown = memory.memory_info().rss - before
        close = asyncio.run(_socket_answer(server, "127.0.0.1"))
        assert close == (TRY_AGAIN_LATER, ADDRESS_NOT_READING)
        assert asyncio.run(_socket_answer(server, OTHER)) == POSTS
        assert _http_answer(server, OTHER) == POSTS
    assert grown < 120 * MB, f"the server grew by {grown // MB} MB"


def test_a_client_that_reads_many_answers_is_not_refused(start_server: StartServer) -> None:
    """Five connections and a socket of one address each read four 10 MB pages, one after
    another: 240 MB through the address, never over the default budget at once."""
    server = start_server(**SEEDING_WRITES)
    publish_long_posts(server)

    async def read_all() -> list[int]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:

            async def over_http() -> list[int]:
                return [
                    _edges((await client.get("/graphql", params=_page())).json()) for _ in range(4)
                ]

            async def over_socket() -> list[int]:
                async with _socket(server, "127.0.0.1") as connection:
                    return [_edges(await _ask(connection, str(n))) for n in range(4)]

            results = await asyncio.gather(*(over_http() for _ in range(5)), over_socket())
            return [edges for answers in results for edges in answers]

    assert asyncio.run(read_all()) == [POSTS] * 24


@contextmanager
def _asking(server: ServerProcess, count: int) -> Iterator[list[bool]]:
    """`count` connections from 127.0.0.1, each asking for the page once and reading
    nothing, each once the one before it was answered or closed: whether each answer
    began (else the connection was closed without it). Held open meanwhile."""
    request = f"GET /graphql?query={urllib.parse.quote(PAGE)} HTTP/1.1\r\nHost: localhost\r\n\r\n"
    with ExitStack() as stack:
        started = []
        for _ in range(count):
            connection = stack.enter_context(socket.socket())
            # A small window, as a client that does not read keeps it: the server's
            # process, not the kernel, holds the answer.
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            connection.settimeout(60)
            connection.connect(("127.0.0.1", server.port))
            connection.sendall(request.encode())
            try:
                started.append(connection.recv(1, socket.MSG_PEEK) == b"H")
            except ConnectionResetError:
                started.append(False)
        yield started


def _http_answer(server: ServerProcess, source: str) -> int:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=server.url, transport=transport, timeout=60) as client:
        return _edges(client.get("/graphql", params=_page()).json())


async def _socket_answer(server: ServerProcess, source: str) -> int | tuple[int, str]:
    """The page's length from a socket opened from `source`, or how the socket closed."""
    try:
        async with _socket(server, source) as connection:
            return _edges(await _ask(connection, "1"))
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "the connection ended without a close frame"
        return closed.rcvd.code, closed.rcvd.reason


@asynccontextmanager
async def _socket(server: ServerProcess, source: str) -> AsyncIterator[ClientConnection]:
    """A graphql-transport-ws socket from `source`, past connection_init."""
    raw = socket.socket()
    raw.bind((source, 0))
    raw.connect(("127.0.0.1", server.port))
    async with websockets.connect(
        f"ws://127.0.0.1:{server.port}/graphql",
        sock=raw,
        subprotocols=[Subprotocol("graphql-transport-ws")],
        max_size=None,
    ) as connection:
        await connection.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await connection.recv())["type"] == "connection_ack"
        yield connection


async def _ask(connection: ClientConnection, id_: str) -> dict[str, object]:
    await connection.send(json.dumps({"id": id_, "type": "subscribe", "payload": {"query": PAGE}}))
    answer = json.loads(await asyncio.wait_for(connection.recv(), 60))
    assert answer["type"] == "next", answer
    done = json.loads(await asyncio.wait_for(connection.recv(), 60))
    assert done == {"id": id_, "type": "complete"}
    payload: dict[str, object] = answer["payload"]
    return payload


def _page() -> dict[str, str]:
    return {"query": PAGE}


def _edges(answer: dict[str, object]) -> int:
    data = answer.get("data")
    assert isinstance(data, dict), answer
    return len(data["recentPosts"]["edges"])
