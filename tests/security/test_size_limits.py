"""Request bodies over the limit get 413 before they are read whole; WebSocket messages
over the limit close the connection with 1009; answers over the limit are refused;
memory does not balloon."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from typing import Any

import httpx2 as httpx
import psutil
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from harness.server_process import ServerProcess
from protection.websocket_guard import (
    ADDRESS_BURST,
    ADDRESS_BYTES_PER_MESSAGE,
    ADDRESS_PER_SECOND,
    ADDRESSES_KEPT,
    BYTES_PER_MESSAGE,
    MESSAGES_BURST,
    AddressBudgets,
    MessageBudget,
    message_cost,
)
from tests.support.api import http_api
from tests.support.protected_server import StartServer
from tests.support.socket_protocols import EACH_PROTOCOL
from tests.support.waiting import until
from wiring.http_protocol import MAX_CHUNKS

LIMIT = 64 * 1024
PROTOCOL = "graphql-transport-ws"


def send_headers(server: ServerProcess, headers: str) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    head = "POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    connection.sendall(f"{head}{headers}\r\n".encode())
    return connection


def read_status(connection: socket.socket) -> int:
    head = b""
    while b"\r\n" not in head:
        chunk = connection.recv(4096)
        if not chunk:
            break
        head += chunk
    return int(head.split(b" ", 2)[1])


def test_a_declared_length_over_the_limit_is_refused_before_any_body(
    start_server: StartServer,
) -> None:
    server = start_server(INKWELL_MAX_BODY_BYTES=str(LIMIT))
    with send_headers(server, "Content-Length: 52428800\r\n") as connection:
        assert read_status(connection) == 413  # not one byte of the 50 MB was sent


def test_a_streamed_body_is_cut_off_at_the_limit_and_memory_stays_flat(
    start_server: StartServer,
) -> None:
    """A chunked 50 MB body: the server answers 413 once it passes the limit, and stops
    reading; the process does not grow by the body's size."""
    server = start_server(INKWELL_MAX_BODY_BYTES=str(LIMIT))
    assert server.process is not None
    memory = psutil.Process(server.process.pid)
    before = memory.memory_info().rss
    chunk = b"x" * 65536
    sent = 0
    with send_headers(server, "Transfer-Encoding: chunked\r\n") as connection:
        try:
            while sent < 50 * 1024 * 1024:
                connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection after its 413: what we want
        status = read_status(connection)
    assert status == 413
    assert sent < 40 * 1024 * 1024, "the server read on long past the limit"
    assert memory.memory_info().rss - before < 30 * 1024 * 1024


def test_a_body_within_the_limit_is_served(start_server: StartServer) -> None:
    server = start_server(INKWELL_MAX_BODY_BYTES=str(LIMIT))
    padding = " " * (LIMIT - 1000)
    response = httpx.post(f"{server.url}/graphql", json={"query": "{ __typename }" + padding})
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


def test_a_body_in_too_many_chunks_is_refused(start_server: StartServer) -> None:
    """Each chunk of a chunked body is a parser callback and a copy: a 900 KB body sent a
    byte a chunk took 0.18 s of the event loop, where the same body in one piece took
    under a millisecond. Past MAX_CHUNKS the answer is 413 and the connection closes."""
    server = start_server()
    body = json.dumps({"query": "{ __typename }", "variables": {"x": "a" * MAX_CHUNKS}})
    head = (
        "POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    few = "".join(f"{len(part):x}\r\n{part}\r\n" for part in (body[:100], body[100:])) + "0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall((head + few).encode())
        assert read_status(connection) == 200
    # Byte a chunk, up to the first chunk past the limit: nothing left unread to reset.
    many = "".join(f"1\r\n{byte}\r\n" for byte in body[: MAX_CHUNKS + 1])
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall((head + many).encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    status, _, rest = answer.partition(b"\r\n")
    assert status == b"HTTP/1.1 413 Request Entity Too Large", answer[:200]
    (error,) = json.loads(rest.partition(b"\r\n\r\n")[2])["errors"]
    assert error["extensions"] == {"code": "PAYLOAD_TOO_LARGE", "maxChunks": MAX_CHUNKS}
    # More chunks behind the refusal: the parser then fails on them, which is no second
    # answer, and the request log keeps the 413 (it had written 400: a re-check probe).
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall((head + many + "1\r\na\r\n" * 100).encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    assert answer.count(b"HTTP/1.1 ") == 1 and answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert [status for status in logged_statuses(server, 2) if status >= 400] == [413, 413]


def logged_statuses(server: ServerProcess, refused: int) -> list[int]:
    """The statuses of /graphql in the request log, once `refused` refusals are there."""
    deadline = time.monotonic() + 5
    while True:
        lines = [
            json.loads(line) for line in server.log.read_text().splitlines() if line[:1] == "{"
        ]
        statuses = [line["status"] for line in lines if line.get("path") == "/graphql"]
        if len([status for status in statuses if status >= 400]) >= refused:
            return statuses
        assert time.monotonic() < deadline, statuses
        time.sleep(0.05)


def test_the_413_is_graphql_shaped_in_the_media_type_asked_for(
    start_server: StartServer,
) -> None:
    server = start_server(INKWELL_MAX_BODY_BYTES=str(LIMIT))
    body = b"{" + b" " * LIMIT + b"}"
    for accept, media_type in (
        (None, "application/json"),
        ("application/graphql-response+json", "application/graphql-response+json"),
        ("text/html", "application/json"),  # a refusal is no 406
    ):
        headers = {"accept": accept} if accept else {}
        response = httpx.post(f"{server.url}/graphql", content=body, headers=headers)
        assert response.status_code == 413
        assert response.headers["content-type"] == media_type
        (error,) = response.json()["errors"]
        assert error["extensions"] == {"code": "PAYLOAD_TOO_LARGE", "maxBytes": LIMIT}


def ws_url(server: ServerProcess) -> str:
    return f"ws://127.0.0.1:{server.port}/graphql"


async def open_session(server: ServerProcess) -> websockets.ClientConnection:
    connection = await websockets.connect(
        ws_url(server),
        subprotocols=[Subprotocol(PROTOCOL)],
        max_size=None,
    )
    await connection.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert json.loads(await connection.recv())["type"] == "connection_ack"
    return connection


async def closed_with(connection: websockets.ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(connection.recv(), timeout=10)
    return connection.close_code


async def test_a_websocket_message_over_the_limit_closes_with_1009(
    start_server: StartServer,
) -> None:
    server = start_server(INKWELL_MAX_WS_MESSAGE_BYTES=str(LIMIT))
    connection = await open_session(server)
    query = 'subscription { post(id: "x") { id } }' + " " * LIMIT
    await connection.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
    assert await closed_with(connection) == 1009


async def test_a_mutation_http_takes_goes_over_a_socket_too(start_server: StartServer) -> None:
    """A post of 66,000 "é" is 132 KB of JSON, well within an HTTP body. Over a socket
    (urql's `enableAllOperations`) it met the former 128 KB message limit: closed with
    1009, which graphql-ws never reconnects after, so the socket's subscriptions ended
    for good (an outside probe)."""
    server = start_server()
    author = http_api(server).register("Ann")
    connection = await websockets.connect(
        ws_url(server), subprotocols=[Subprotocol(PROTOCOL)], max_size=None
    )
    init = {"Authorization": f"Bearer {author.token}"}
    await connection.send(json.dumps({"type": "connection_init", "payload": init}))
    assert json.loads(await connection.recv())["type"] == "connection_ack"
    mutation = (
        'mutation($c: String!) { createPost(input: {title: "Long", content: $c}) { postId } }'
    )
    payload = {"query": mutation, "variables": {"c": "é" * 66_000}}
    message = json.dumps({"id": "m", "type": "subscribe", "payload": payload}, ensure_ascii=False)
    assert len(message.encode()) > 128 * 1024
    await connection.send(message)
    async with asyncio.timeout(30):
        answer = json.loads(await connection.recv())
    assert answer["type"] == "next" and answer["payload"]["data"]["createPost"]["postId"], answer
    await connection.close()


async def test_a_text_frame_that_is_not_utf8_closes_with_1007_and_logs_no_traceback(
    start_server: StartServer,
) -> None:
    """uvicorn logged each as an ERROR with a traceback: up to one per handshake an
    address may make, 1,200 a minute, from anyone."""
    server = start_server()
    for _ in range(3):
        connection = await open_session(server)
        await connection.send(b'{"type":"ping","payload":{"x":"\xff"}}', text=True)
        assert await closed_with(connection) == 1007
    log = server.log.read_text()
    assert "Invalid UTF-8" in log
    assert "Traceback" not in log and '"level":"ERROR"' not in log, log[-2000:]


async def test_a_handshakes_query_string_stays_out_of_the_log(start_server: StartServer) -> None:
    """uvicorn logs each handshake with the URL's query, and some WebSocket clients put a
    token there: it was written to the log (an outside probe)."""
    server = start_server()
    async with websockets.connect(
        ws_url(server) + "?access_token=LeakyTok3n&password=hunter2",
        subprotocols=[Subprotocol(PROTOCOL)],
    ) as connection:
        await connection.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await connection.recv())["type"] == "connection_ack"
    log = server.log.read_text()
    assert '\\"WebSocket /graphql\\" [accepted]' in log, log[-2000:]
    assert "LeakyTok3n" not in log and "hunter2" not in log


# A subscription that ends at once (NOT_FOUND, then complete): the subscribe rate counts
# subscriptions, not the queries and mutations a client sends over its socket.
NO_POST = 'subscription { post(id: "00000000-0000-4000-8000-000000000000") { id } }'


async def test_subscribe_floods_close_with_1013_try_again_later(start_server: StartServer) -> None:
    """Past the rate, a subscribe waits for its turn (the next test); one whose turn is
    further than MAX_HELD_SECONDS away, as under a rate per hour, closes the socket."""
    server = start_server(INKWELL_RATE_LIMIT_SUBSCRIBES="5/hour")
    connection = await open_session(server)
    for n in range(6):
        await connection.send(
            json.dumps({"id": str(n), "type": "subscribe", "payload": {"query": NO_POST}})
        )
    assert await closed_with(connection) == 1013
    assert connection.close_reason is not None
    assert connection.close_reason.startswith("Too many subscriptions: try again in")
    # Counted too when it holds a lone surrogate, which orjson cannot read: such a
    # subscribe was not taken for one, and went uncounted.
    connection = await open_session(server)
    unused = {"query": NO_POST, "variables": {"z": "\ud83d"}}
    for n in range(6):
        await connection.send(json.dumps({"id": str(n), "type": "subscribe", "payload": unused}))
    assert await closed_with(connection) == 1013


async def answers(connection: websockets.ClientConnection, ids: int) -> list[str]:
    """The types of the messages up to the `complete` of every one of `ids` queries."""
    seen: list[str] = []
    async with asyncio.timeout(60):
        while seen.count("complete") < ids:
            seen.append(json.loads(await connection.recv())["type"])
    return seen


async def test_queries_over_a_socket_are_not_held_by_the_subscribe_rate(
    start_server: StartServer,
) -> None:
    """graphql-transport-ws sends them as `subscribe` messages too: past 60 a minute
    they waited, up to 69 s, for a client sending every operation over its socket (an
    outside probe). They are charged by the query-cost rate; subscriptions still count."""
    server = start_server(INKWELL_RATE_LIMIT_SUBSCRIBES="2/hour")
    connection = await open_session(server)
    for n in range(10):
        query = {"query": "query Named { __typename }", "operationName": "Named"}
        await connection.send(json.dumps({"id": str(n), "type": "subscribe", "payload": query}))
    assert (await answers(connection, 10)).count("next") == 10
    for n in range(3):  # the third's turn is an hour away
        payload = {"query": NO_POST}
        await connection.send(json.dumps({"id": f"s{n}", "type": "subscribe", "payload": payload}))
    assert await closed_with(connection) == 1013


async def test_a_query_goes_ahead_of_a_held_subscription(start_server: StartServer) -> None:
    """It waited behind the subscription's turn, up to a minute, for a client sending
    every operation over its socket (a re-check probe)."""
    server = start_server(INKWELL_RATE_LIMIT_SUBSCRIBES="1 per 30 seconds")
    connection = await open_session(server)
    for n in range(2):  # s1 waits for its turn, 30 s away
        payload = {"query": NO_POST}
        await connection.send(json.dumps({"id": f"s{n}", "type": "subscribe", "payload": payload}))
    query = {"query": "{ __typename }"}
    await connection.send(json.dumps({"id": "q", "type": "subscribe", "payload": query}))
    seen: list[tuple[str | None, str]] = []
    async with asyncio.timeout(15):
        while ("q", "complete") not in seen:
            message = json.loads(await connection.recv())
            seen.append((message.get("id"), message["type"]))
    assert ("q", "next") in seen and all(operation != "s1" for operation, _ in seen), seen
    await connection.close()


async def test_queries_over_a_socket_count_against_the_request_rate(
    start_server: StartServer,
) -> None:
    """Not held by the subscribe rate, they were held by nothing but the message rate: 50
    sockets of one address sent 1,000 a second, where HTTP takes 20 (a re-check probe)."""
    server = start_server(INKWELL_RATE_LIMIT_REQUESTS="6/hour")  # the handshake is one
    connection = await open_session(server)
    with contextlib.suppress(ConnectionClosed):
        for n in range(8):
            query = {"query": "{ __typename }"}
            await connection.send(json.dumps({"id": str(n), "type": "subscribe", "payload": query}))
    assert await closed_with(connection) == 1013
    assert connection.close_reason is not None
    assert connection.close_reason.startswith("Too many requests"), connection.close_reason


async def test_subscribes_past_the_rate_wait_their_turn_and_pings_go_ahead(
    start_server: StartServer,
) -> None:
    """A page of 35 subscriptions reconnecting after a server restart was closed with 1013
    at the first subscribe past the rate, reconnected, spent the slots freed since, and
    was closed again, for over two minutes (an outside probe, graphql-ws with the docs'
    retry recipe); a socket closed takes its subscriptions with it. Held without reading
    on, a socket missed its keepalive pongs and was closed with 1011 after 40 s. Now each
    subscribe waits for its turn, a window's end too, while a ping is answered at once,
    on the first socket and on the one that replaces it."""
    server = start_server(INKWELL_RATE_LIMIT_SUBSCRIBES="4 per 1 second")
    for _ in range(2):
        connection = await open_session(server)
        for n in range(8):
            await connection.send(
                json.dumps({"id": str(n), "type": "subscribe", "payload": {"query": NO_POST}})
            )
        await connection.send(json.dumps({"type": "ping"}))
        seen = await answers(connection, 8)
        completes = [i for i, kind in enumerate(seen) if kind == "complete"]
        assert seen.index("pong") < completes[4], seen  # answered while the 5th waited
        await connection.close()


async def test_what_waits_behind_a_held_subscribe_is_bounded_in_bytes(
    start_server: StartServer,
) -> None:
    """Counted in characters, messages of emoji held four times the bound (a re-check
    probe: 3.9 MB a socket, 250 MB for one address's 50 sockets)."""
    server = start_server(INKWELL_RATE_LIMIT_SUBSCRIBES="1 per 30 seconds")
    connection = await open_session(server)
    for n in range(2):  # the second waits for its turn
        query = {"query": NO_POST}
        await connection.send(json.dumps({"id": str(n), "type": "subscribe", "payload": query}))
    pad = "\U0001f600" * 30_000  # 120 KB of UTF-8 in 30,000 characters
    waits = {"id": "9", "type": "subscribe", "payload": {"query": NO_POST}, "pad": pad}
    with contextlib.suppress(ConnectionClosed):
        for _ in range(3):  # subscriptions wait behind the held one
            await connection.send(json.dumps(waits, ensure_ascii=False))
    assert await closed_with(connection) == 1013
    assert connection.close_reason is not None
    assert "waiting behind a subscribe past the rate" in connection.close_reason


async def test_a_complete_withdraws_a_subscribe_that_waits_for_its_turn(
    start_server: StartServer,
) -> None:
    """A held subscribe the client completed still started when its turn came, a minute
    later, and sent an item for an id the client had let go (an outside probe). Now
    neither reaches the app, the held one and one queued behind it alike, and the turn
    stays free for the next."""
    server = start_server(INKWELL_RATE_LIMIT_SUBSCRIBES="1 per 3 seconds")
    connection = await open_session(server)
    query = {"query": NO_POST}
    for n in range(3):  # 0 runs, 1 is held, 2 waits behind it
        await connection.send(json.dumps({"id": str(n), "type": "subscribe", "payload": query}))
    for n in (1, 2):
        await connection.send(json.dumps({"id": str(n), "type": "complete"}))
    await connection.send(json.dumps({"type": "ping"}))
    seen: list[tuple[str | None, str]] = []
    async with asyncio.timeout(30):
        while ("3", "complete") not in seen:
            message = json.loads(await connection.recv())
            seen.append((message.get("id"), message["type"]))
            if message["type"] == "pong":  # the withdrawn ones are gone: the next in turn
                await connection.send(
                    json.dumps({"id": "3", "type": "subscribe", "payload": query})
                )
    assert {operation_id for operation_id, _ in seen} == {"0", None, "3"}, seen
    await connection.close()


async def test_a_complete_of_a_running_subscription_goes_ahead_of_a_held_one(
    start_server: StartServer,
) -> None:
    """It waited behind the held subscribe, and the subscription kept sending items for
    up to a minute after the client's complete (a re-check probe). Here the id is taken
    again by a query once the complete is through: answered, not refused as taken."""
    server = start_server(INKWELL_RATE_LIMIT_SUBSCRIBES="1 per 30 seconds")
    connection = await open_session(server)
    live = {"query": "subscription { projections { name } }"}
    for operation_id in ("s0", "s1"):  # s1 waits for its turn, 30 s away
        await connection.send(
            json.dumps({"id": operation_id, "type": "subscribe", "payload": live})
        )
    await connection.send(json.dumps({"id": "s0", "type": "complete"}))
    query = {"query": "{ __typename }"}
    await connection.send(json.dumps({"id": "s0", "type": "subscribe", "payload": query}))
    async with asyncio.timeout(15):
        while True:
            message = json.loads(await connection.recv())
            if message.get("payload", {}).get("data") == {"__typename": "Query"}:
                break
    assert message["id"] == "s0"
    await connection.close()


async def test_a_socket_that_goes_while_its_subscribe_is_held_leaves_nothing(
    start_server: StartServer,
) -> None:
    """Its wait ends with it: the address's next socket is served at the rate, and the
    server holds no connection of theirs afterwards."""
    server = start_server(INKWELL_RATE_LIMIT_SUBSCRIBES="2 per 1 second")
    assert server.process is not None
    process = psutil.Process(server.process.pid)

    def clients() -> int:
        accepted = process.net_connections("tcp")
        return sum(c.laddr.port == server.port and c.status != "LISTEN" for c in accepted)

    for _ in range(3):
        connection = await open_session(server)
        for n in range(6):
            query = {"query": NO_POST}
            await connection.send(json.dumps({"id": str(n), "type": "subscribe", "payload": query}))
        assert "complete" in await answers(connection, 1)
        connection.transport.abort()
    connection = await open_session(server)
    await connection.send(
        json.dumps({"id": "1", "type": "subscribe", "payload": {"query": NO_POST}})
    )
    assert "complete" in await answers(connection, 1)
    await connection.close()
    await until(lambda: clients() == 0, timeout=10)


async def test_a_message_flood_on_a_connection_closes_it_with_1013(
    start_server: StartServer,
) -> None:
    """Ten connections sending pings as fast as they could held other clients' answers
    for up to 4.6 s. Past a burst of MESSAGES_BURST a connection may send
    MESSAGES_PER_SECOND, and one that floods is closed; other clients are served."""
    server = start_server()
    flooding = await open_session(server)
    steady = await open_session(server)
    ping = json.dumps({"type": "ping"})
    with contextlib.suppress(ConnectionClosed):
        for _ in range(MESSAGES_BURST + 10):
            await flooding.send(ping)
    assert await closed_with(flooding) == 1013
    assert flooding.close_reason == (
        "at most 20 messages a second on a connection (one more for each 16384 bytes of a message)"
    )
    for _ in range(5):  # a ping now and then is nothing
        await steady.send(ping)
        assert json.loads(await steady.recv()) == {"type": "pong"}
    await steady.close()
    assert httpx.post(f"{server.url}/graphql", json={"query": "{ __typename }"}).status_code == 200


async def test_large_messages_spend_a_connections_budget_by_their_size(
    start_server: StartServer,
) -> None:
    """Fifty sockets of one address sending 130 KB pings, each within the message rate,
    held the server's event loop at a full core and another client's `{ __typename }` at
    p90 570-680 ms (an outside probe): reading a message costs in proportion to its size,
    and the rate counted each as one."""
    server = start_server()
    flooding = await open_session(server)
    large = json.dumps({"type": "ping", "payload": {"x": "a" * 100_000}})
    answered = MESSAGES_BURST // (1 + len(large) // BYTES_PER_MESSAGE)  # 200 // 7: 28
    sent = 0
    with contextlib.suppress(ConnectionClosed):
        for _ in range(answered + 10):
            await flooding.send(large)
            sent += 1
            # Its pong or the close: a client that sends on past the close is cut off
            # unread, and its close frame lost (1006).
            await asyncio.wait_for(flooding.recv(), timeout=10)
    assert await closed_with(flooding) == 1013
    assert sent <= answered + 2  # the close reaches the client after a send or two more


def test_a_message_budget_refills_at_its_rate() -> None:
    now = [0.0]
    budget = MessageBudget(burst=3, per_second=2.0, clock=lambda: now[0])
    assert [budget.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # one message's worth
    assert [budget.take(), budget.take()] == [True, False]
    now[0] += 60  # refills to the burst, no more
    assert [budget.take() for _ in range(4)] == [True, True, True, False]


def test_a_message_counts_one_more_for_each_block_of_bytes() -> None:
    now = [0.0]
    budget = MessageBudget(burst=10, per_second=1.0, clock=lambda: now[0])
    assert message_cost(BYTES_PER_MESSAGE - 1) == 1
    assert budget.take(message_cost(4 * BYTES_PER_MESSAGE))  # 5: 5 left
    assert not budget.take(6)  # refused whole: nothing spent
    assert [budget.take() for _ in range(6)] == [True] * 5 + [False]


def test_an_address_budget_outlives_its_sockets_until_it_refills() -> None:
    now = [0.0]
    budgets = AddressBudgets(clock=lambda: now[0])
    assert budgets.of("203.0.113.9").take(ADDRESS_BURST)
    assert not budgets.of("203.0.113.9").take()  # a new socket: the same, spent budget
    now[0] += ADDRESS_BURST / ADDRESS_PER_SECOND  # refilled: as good as none
    for n in range(ADDRESSES_KEPT):
        budgets.of(f"10.0.{n // 256}.{n % 256}")
    assert len(budgets) == 1  # the full ones were forgotten to make room


async def test_new_sockets_do_not_buy_an_address_new_bursts(start_server: StartServer) -> None:
    """50 loops from one address, each opening a socket, sending four 130 KB pings and
    waiting for its 1013, made 420-460 handshakes in 6 s and held another client's
    `{ __typename }` at p99 660 ms (an outside probe): each socket's budget started full."""
    server = start_server()
    large = json.dumps({"type": "ping", "payload": {"x": "a" * 100_000}})
    per_socket = 4  # well within a socket's burst
    cost = message_cost(len(large), ADDRESS_BYTES_PER_MESSAGE)  # 49 of the address's
    sockets = 0
    while sockets * per_socket * cost <= 2 * ADDRESS_BURST:
        connection = await open_session(server)
        sockets += 1
        with contextlib.suppress(ConnectionClosed):
            for _ in range(per_socket):
                await connection.send(large)
                assert json.loads(await connection.recv()) == {"type": "pong"}
            await connection.close()
            continue
        assert connection.close_code == 1013
        assert "messages a second from an address" in (connection.close_reason or "")
        break
    else:
        pytest.fail(f"{sockets} sockets of {per_socket} large pings each all went through")


async def test_handshakes_at_once_are_bounded_by_the_cap_too(start_server: StartServer) -> None:
    """Counted only after the handshake's rate check (a Redis round trip), every
    handshake of a burst passed the cap before any was counted: 12 opened under a cap
    of 5 (an outside probe)."""
    server = start_server(INKWELL_MAX_WS_PER_ADDRESS="5")

    async def opened() -> websockets.ClientConnection | None:
        try:
            return await open_session(server)
        except InvalidStatus as refused:
            assert refused.response.status_code == 429
            return None

    sockets = await asyncio.gather(*(opened() for _ in range(12)))
    held = [socket for socket in sockets if socket is not None]
    try:
        assert len(held) == 5
    finally:
        for socket in held:
            await socket.close()


async def test_connections_per_address_are_bounded(start_server: StartServer) -> None:
    server = start_server(INKWELL_MAX_WS_PER_ADDRESS="3")
    held = [await open_session(server) for _ in range(3)]
    with pytest.raises(InvalidStatus) as refused:
        await open_session(server)
    assert refused.value.response.status_code == 429
    (error,) = json.loads(refused.value.response.body)["errors"]
    assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": 1, "maxSockets": 3}
    await held.pop().close()
    deadline = time.monotonic() + 10
    while True:  # the server counts the close once it has seen it
        try:
            held.append(await open_session(server))
            break
        except InvalidStatus:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
    for connection in held:
        await connection.close()


ANSWER_LIMIT = 100_000
CONTENT = "ж" * 30_000  # 60 KB of UTF-8: two of these are over the limit
PAGE = "{ recentPosts(first: 5) { edges { node { title content } } } }"


def test_an_answer_over_the_limit_is_refused_and_a_mutations_is_sent(
    start_server: StartServer,
) -> None:
    """A page of 100 posts of 100,000 four-byte characters is 40 MB within the cost limit,
    and an answer is held in memory until the client has read it: ten connections that
    asked for that page and read nothing held 700 MB. An answer over the limit is a
    small refusal instead; a mutation's is sent whatever its size (its writes are done)."""
    server = start_server(INKWELL_MAX_RESPONSE_BYTES=str(ANSWER_LIMIT), INKWELL_RATE_LIMITS="off")
    api = http_api(server)
    ann = api.register("Ann")
    written = api.ok(
        "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id content } } }",
        {"i": {"title": "Long", "content": CONTENT * 2}},
        token=ann.token,
    )
    assert written["createPost"]["post"]["content"] == CONTENT * 2  # 120 KB, answered
    api.publish(ann, written["createPost"]["post"]["id"])

    refused = api.client.post("/graphql", json={"query": PAGE})
    assert refused.status_code == 200
    assert refused.json()["errors"][0]["extensions"] == {"code": "RESPONSE_TOO_LARGE"}
    assert "over the limit of 100000" in refused.json()["errors"][0]["message"]
    strict = api.client.post(
        "/graphql", json={"query": PAGE}, headers={"Accept": "application/graphql-response+json"}
    )
    assert strict.status_code == 400
    assert len(strict.content) < 1000
    titles = api.ok("{ recentPosts(first: 5) { edges { node { title } } } }")
    assert titles["recentPosts"]["edges"] == [{"node": {"title": "Long"}}]


@EACH_PROTOCOL
def test_an_answer_over_the_limit_is_refused_over_a_websocket_too(
    start_server: StartServer, protocol: str, start: str, error_of: Any
) -> None:
    """A query sent over either protocol was answered whole, however large."""
    server = start_server(INKWELL_MAX_RESPONSE_BYTES=str(ANSWER_LIMIT), INKWELL_RATE_LIMITS="off")
    token = http_api(server).register("Ann").token
    create = {
        "query": "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id content } } }",
        "variables": {"i": {"title": "Long", "content": CONTENT * 2}},
    }
    written, refused = asyncio.run(
        _over_a_socket(server, protocol, start, token, [create, {"query": DRAFTS}])
    )
    assert written["type"] in ("next", "data"), written  # a mutation's answer is sent
    assert written["payload"]["data"]["createPost"]["post"]["content"] == CONTENT * 2
    assert refused["type"] == "error", refused
    assert error_of(refused)["extensions"] == {"code": "RESPONSE_TOO_LARGE"}


DRAFTS = "{ viewer { posts(first: 5) { edges { node { content } } } } }"


async def _over_a_socket(
    server: ServerProcess, protocol: str, start: str, token: str, payloads: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The first message answering each operation, sent one after another."""
    async with websockets.connect(
        server.url.replace("http", "ws", 1) + "/graphql",
        subprotocols=[Subprotocol(protocol)],
        max_size=None,
    ) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        answers = []
        for n, payload in enumerate(payloads):
            message = {"id": str(n), "type": start, "payload": payload}
            await ws.send(json.dumps(message, ensure_ascii=False))
            while (answer := json.loads(await ws.recv()))["id"] != str(n):
                pass
            answers.append(answer)
        return answers
