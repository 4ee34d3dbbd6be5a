"""A request's line and headers are bounded in bytes (431) and, with its body, in time
(408), and pipelined requests in number: half-sent requests, oversized headers and
unread answers cannot pile up in the server. Requests that stay within the bounds,
kept-alive connections and WebSockets are untouched."""

from __future__ import annotations

import asyncio
import contextlib
import json
import select
import socket
import time

import httpx2 as httpx
import psutil
import websockets
from websockets.typing import Subprotocol

from domain.rules import CONTENT_MAX
from harness.server_process import ServerProcess
from tests.support.api import http_api
from tests.support.protected_server import StartServer
from tests.support.waiting import until_true
from wiring.http_protocol import MAX_PIPELINED

HEADER_LIMIT = 16 * 1024
REGISTER = "mutation($i: RegisterUserInput!) { registerUser(input: $i) { position } }"
SHORT = {"INKWELL_HEADER_TIMEOUT_SECONDS": "1", "INKWELL_BODY_TIMEOUT_SECONDS": "1"}
TYPENAME = {"query": "{ __typename }"}


def connect(server: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def padded_head(kilobytes: int) -> list[bytes]:
    """A GET's request line, then `kilobytes` headers of 1 KB each, one piece apiece."""
    line = b"GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nHost: localhost\r\n"
    return [line, *(b"X-Padding-%d: %s\r\n" % (n, b"p" * 1000) for n in range(kilobytes))]


def send_until_answered(connection: socket.socket, pieces: list[bytes]) -> int:
    """Sends the pieces one read apart until the server answers; returns how many it
    took before the answer (all of them when none came)."""
    for sent, piece in enumerate(pieces):
        readable, _, _ = select.select([connection], [], [], 0.02)
        if readable:
            return sent
        connection.sendall(piece)
    return len(pieces)


def read_answer(connection: socket.socket) -> tuple[int, dict[str, object]]:
    answer = b""
    while chunk := connection.recv(65536):
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


def read_one_answer(connection: socket.socket) -> tuple[int, dict[str, object]]:
    """One answer on a kept-alive connection, read to its Content-Length."""
    return read_answers(connection, 1)[0]


def read_answers(connection: socket.socket, count: int) -> list[tuple[int, dict[str, object]]]:
    """`count` answers that may arrive together, each read to its Content-Length."""
    buffered = b""
    answers: list[tuple[int, dict[str, object]]] = []
    while len(answers) < count:
        while b"\r\n\r\n" not in buffered:
            buffered += connection.recv(65536)
        head, _, buffered = buffered.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        length = next(
            int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length")
        )
        while len(buffered) < length:
            buffered += connection.recv(65536)
        body, buffered = buffered[:length], buffered[length:]
        answers.append((int(lines[0].split(" ")[1]), json.loads(body)))
    return answers


def timed_close(connection: socket.socket) -> tuple[bytes, float]:
    """What the server sends before it closes the connection, and after how long."""
    started = time.monotonic()
    answer = b""
    while chunk := connection.recv(65536):
        answer += chunk
    return answer, time.monotonic() - started


def test_headers_over_the_limit_get_431_and_nothing_after_is_read(
    start_server: StartServer,
) -> None:
    server = start_server(INKWELL_MAX_HEADER_BYTES=str(HEADER_LIMIT))
    pieces = padded_head(kilobytes=100)
    with connect(server) as connection:
        sent = send_until_answered(connection, pieces)
        status, body = read_answer(connection)
    assert status == 431
    assert body["errors"] == [
        {
            "message": f"The request line and headers are over {HEADER_LIMIT} bytes.",
            "extensions": {"code": "HEADERS_TOO_LARGE", "maxBytes": HEADER_LIMIT},
        }
    ]
    assert sent < 40, f"the server read {sent} KB of headers before refusing"


def test_headers_within_the_limit_are_served_however_they_arrive(
    start_server: StartServer,
) -> None:
    server = start_server(INKWELL_MAX_HEADER_BYTES=str(HEADER_LIMIT))
    pieces = [*padded_head(kilobytes=15), b"Connection: close\r\n\r\n"]
    with connect(server) as connection:
        assert send_until_answered(connection, pieces) == len(pieces)
        assert read_answer(connection) == (200, {"data": {"__typename": "Query"}})


def test_huge_unfinished_headers_do_not_grow_the_server(start_server: StartServer) -> None:
    """Ten clients each sending 20 MB of one header that never ends took the server from
    89 MB to 291 MB before the limit; now each is cut off at the default limit."""
    server = start_server()
    assert server.process is not None
    memory = psutil.Process(server.process.pid)
    before = memory.memory_info().rss
    sent_by_each = []
    for _ in range(10):
        with connect(server) as connection:
            connection.sendall(b"GET /graphql HTTP/1.1\r\nHost: localhost\r\nX-Big: ")
            sent = 0
            try:
                while sent < 20 * 1024 * 1024:
                    connection.sendall(b"a" * 65536)
                    sent += 65536
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server refused and closed: what we want
            sent_by_each.append(sent)
    assert max(sent_by_each) < 10 * 1024 * 1024, sent_by_each
    assert memory.memory_info().rss - before < 30 * 1024 * 1024
    assert httpx.post(f"{server.url}/graphql", json=TYPENAME).status_code == 200


def test_headers_trickled_past_the_deadline_get_408(start_server: StartServer) -> None:
    """A byte every 0.2 s keeps a connection busy but never finishes: the deadline is
    for the whole header block, not for the gap between bytes."""
    server = start_server(**SHORT)
    with connect(server) as connection:
        connection.sendall(b"GET /graphql HTTP/1.1\r\n")
        sent = send_until_answered(connection, [b"X" for _ in range(50)])
        status, body = read_answer(connection)
    assert status == 408
    assert body["errors"][0]["extensions"] == {"code": "REQUEST_TIMEOUT"}  # type: ignore[index]
    assert sent < 50, "the deadline never came"


def test_a_connection_that_never_sends_is_closed_at_the_deadline(
    start_server: StartServer,
) -> None:
    server = start_server(**SHORT)
    with connect(server) as connection:
        answer, waited = timed_close(connection)
    assert answer == b""  # nobody asked anything: nothing to answer
    assert 0.9 < waited < 5


def test_a_body_that_does_not_arrive_in_time_gets_408(start_server: StartServer) -> None:
    server = start_server(**SHORT)
    with connect(server) as connection:
        connection.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n" + b'{"query": '
        )
        answer, waited = timed_close(connection)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"code":"REQUEST_TIMEOUT"' in answer
    assert 0.9 < waited < 5
    assert httpx.post(f"{server.url}/graphql", json=TYPENAME).status_code == 200
    # The request log says what the server answered, not that the client left (499).
    statuses = logged_statuses(server, until=408)
    assert 408 in statuses, statuses
    assert not [status for status in statuses if status >= 499]
    with connect(server) as connection:  # and 499 when the client does leave
        connection.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n" + b'{"query": '
        )
    assert 499 in logged_statuses(server, until=499)


def logged_statuses(server: ServerProcess, until: int) -> list[int]:
    """The statuses in the server's request log, once one of them is `until` (or 5 s)."""
    deadline = time.monotonic() + 5
    while True:
        lines = server.log.read_text().splitlines()
        statuses = [json.loads(line).get("status") for line in lines if line[:1] == "{"]
        statuses = [status for status in statuses if status is not None]
        if until in statuses or time.monotonic() > deadline:
            return statuses
        time.sleep(0.05)


def test_the_deadlines_do_not_cut_what_is_within_them(start_server: StartServer) -> None:
    """An answer that takes longer than both deadlines (a read-your-writes wait that runs
    to its 2 s timeout), and a kept-alive connection idle between requests for longer
    than the header deadline, are served as before."""
    # `api` projects nothing and no projector runs: a position in the log that no read
    # model reaches (one past the log's head is refused at once).
    server = start_server("api", **SHORT, INKWELL_CONSISTENCY_TIMEOUT="2")
    registered = http_api(server).ok(REGISTER, {"i": {"name": "Ann"}})
    unreached = str(registered["registerUser"]["position"])
    waited = httpx.post(
        f"{server.url}/graphql", json=TYPENAME, headers={"X-Consistent-With": unreached}
    )
    assert waited.json()["errors"][0]["extensions"]["code"] == "CONSISTENCY_TIMEOUT"
    # Kept alive.
    request = b"GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nHost: localhost\r\n\r\n"
    with connect(server) as connection:
        connection.sendall(request)
        assert read_one_answer(connection) == (200, {"data": {"__typename": "Query"}})
        time.sleep(1.5)  # past the header deadline, within uvicorn's 5 s keep-alive
        connection.sendall(request)
        assert read_one_answer(connection) == (200, {"data": {"__typename": "Query"}})


def test_a_websocket_outlives_the_deadlines(start_server: StartServer) -> None:
    """The handshake is bounded like any request; once upgraded, the connection is the
    WebSocket protocol's, and idling past both deadlines does not close it."""
    server = start_server(**SHORT)

    async def idle_then_ping() -> dict[str, str]:
        async with websockets.connect(
            f"ws://127.0.0.1:{server.port}/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
        ) as socket_:
            await socket_.send(json.dumps({"type": "connection_init"}))
            assert json.loads(await socket_.recv()) == {"type": "connection_ack"}
            await asyncio.sleep(2.5)
            await socket_.send(json.dumps({"type": "ping"}))
            pong: dict[str, str] = json.loads(await socket_.recv())
            return pong

    assert asyncio.run(idle_then_ping()) == {"type": "pong"}


PIPELINED_GET = b"GET /graphql?query=%%7Ba%d:__typename%%7D HTTP/1.1\r\nHost: localhost\r\n\r\n"


def test_pipelined_requests_are_answered_in_order(start_server: StartServer) -> None:
    server = start_server(INKWELL_RATE_LIMITS="off")
    with connect(server) as connection:
        connection.sendall(b"".join(PIPELINED_GET % n for n in range(MAX_PIPELINED)))
        answers = read_answers(connection, MAX_PIPELINED)
    assert answers == [(200, {"data": {f"a{n}": "Query"}}) for n in range(MAX_PIPELINED)]


def test_requests_pipelined_without_reading_the_answers_do_not_grow_the_server(
    start_server: StartServer,
) -> None:
    """uvicorn read on after every answer and queued all it read: twenty connections that
    pipelined GETs and read no answer took the server from 101 MB to 1,637 MB in 8 s,
    and /health took 5.4 s. A connection that has more than MAX_PIPELINED requests
    waiting is closed now, and none reads more while its requests wait."""
    server = start_server(INKWELL_RATE_LIMITS="off")
    assert server.process is not None
    memory = psutil.Process(server.process.pid)
    before = memory.memory_info().rss
    burst = b"".join(PIPELINED_GET % n for n in range(1000))
    connections = [connect(server) for _ in range(10)]
    sent = [0] * len(connections)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for i, connection in enumerate(connections):
            with contextlib.suppress(BlockingIOError, BrokenPipeError, ConnectionResetError):
                sent[i] += connection.send(burst, socket.MSG_DONTWAIT)
    started = time.monotonic()
    assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
    assert time.monotonic() - started < 1
    assert memory.memory_info().rss - before < 30 * 1024 * 1024, sent
    for connection in connections:
        connection.close()


def test_a_client_leaving_with_pipelined_answers_unread_logs_no_traceback(
    start_server: StartServer,
) -> None:
    """uvicorn marks only the newest request read as disconnected: with three pipelined,
    the one being answered when the client left wrote to the closed transport, a
    RuntimeError traceback in the log per connection (10 for 10)."""
    server = start_server(INKWELL_RATE_LIMITS="off")
    api = http_api(server)
    author = api.register("Long")
    for n in range(50):
        api.published_post(author, f"Long {n}", content="a" * CONTENT_MAX)
    # 5 MB answers: more than the kernel's socket buffers take, so the server's wait.
    query = json.dumps({"query": "{ recentPosts(first: 50) { edges { node { content } } } }"})
    request = (
        b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(query), query.encode())
    )
    connections = []
    for _ in range(5):
        connection = socket.socket()
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        connection.connect(("127.0.0.1", server.port))
        connection.sendall(request * 3)  # never read
        connections.append(connection)
    time.sleep(2)  # the first answers fill the buffers; the second ones wait to be written
    for connection in connections:
        connection.close()
    time.sleep(1)
    assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
    log = server.log.read_text()
    assert "Traceback" not in log and "Exception in ASGI" not in log, log[-3000:]


def test_a_long_path_is_logged_cut_short(start_server: StartServer) -> None:
    """200 requests for a 65 KB path wrote 25.6 MB of log in 0.2 s (each line held the
    path twice), about 150 MB a minute within one address's request rate."""
    server = start_server()
    path = "/" + "A" * 60_000
    assert httpx.get(f"{server.url}{path}", timeout=10).status_code == 404
    # The line is written once the answer has gone: wait for it.
    lines = until_true(
        lambda: [line for line in server.log.read_text().splitlines() if "AAAA" in line]
    )
    assert lines and all(len(line) < 2_000 for line in lines), [len(line) for line in lines]
    assert "(60001 characters)" in lines[-1]


def test_a_client_that_leaves_while_its_answer_is_waited_for_is_logged_499(
    start_server: StartServer,
) -> None:
    """The app reads nothing more of a request it has whole, so it never heard of the
    close: a client that gave up on a read-your-writes wait was logged 200 once the
    wait ran out, and so was a registerUser whose client closed only its sending side,
    which got no answer (outside probes). Both are 499 now, as nginx logs them."""
    server = start_server("api", INKWELL_CONSISTENCY_TIMEOUT="2")  # no projector runs
    registered = http_api(server).ok(REGISTER, {"i": {"name": "Ann"}})
    unreached = str(registered["registerUser"]["position"])
    body = json.dumps(TYPENAME).encode()
    with connect(server) as connection:
        connection.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"X-Request-Id: gave-up\r\nX-Consistent-With: %s\r\nContent-Length: %d\r\n\r\n%s"
            % (unreached.encode(), len(body), body)
        )
        time.sleep(0.5)
    assert logged_status(server, "gave-up") == 499
    register = json.dumps({"query": REGISTER, "variables": {"i": {"name": "Half"}}}).encode()
    with connect(server) as connection:
        connection.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"X-Request-Id: half-closed\r\nContent-Length: %d\r\n\r\n%s" % (len(register), register)
        )
        connection.shutdown(socket.SHUT_WR)
        assert connection.recv(65536) == b""  # closed, unanswered
    assert logged_status(server, "half-closed") == 499


def logged_status(server: ServerProcess, request_id: str) -> int | None:
    """The status of the request line with this id, once there is one (or 5 s)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in server.log.read_text().splitlines():
            if line[:1] == "{" and '"status"' in line:
                fields = json.loads(line)
                if fields.get("request_id") == request_id:
                    return int(fields["status"])
        time.sleep(0.05)
    return None
