"""Requests whose framing is malformed, ambiguous or unsupported are refused before the
app runs, each with a GraphQL-shaped error that carries `extensions.code`, and the
connection is closed (wiring/request_head.py, wiring/http_protocol.py)."""

from __future__ import annotations

import asyncio
import json
import re
import select
import socket
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import websockets
from websockets.typing import Subprotocol

from harness.server_process import ServerProcess
from tests.support import operations as ops
from tests.support.protected_server import StartServer, event_count
from tests.support.shared_server import shared_server

TYPENAME = b'{"query": "{ __typename }"}'
RATE_LIMITS_ON = {"INKWELL_RATE_LIMITS": "on"}
TRAILER_LIMIT = 16 * 1024
SERVED = (200, {"data": {"__typename": "Query"}})
JSON = b"Host: localhost\r\nContent-Type: application/json\r\n"
WEBSOCKET_HANDSHAKE = (
    b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Protocol: graphql-transport-ws\r\n"
)


def answer_to(server: ServerProcess, request: bytes) -> bytes:
    """Sends the request and reads until the server closes (requests that should be
    served ask it to)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def streamed(server: ServerProcess, pieces: Iterable[bytes]) -> tuple[int, bytes]:
    """Sends the pieces 20 ms apart, so that each is a read of its own, until the server
    answers or they run out; returns how many bytes went, and the answer read until the
    server closes."""
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        for piece in pieces:
            if select.select([connection], [], [], 0.02)[0]:
                break
            connection.sendall(piece)
            sent += len(piece)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return sent, answer


def exchange(server: ServerProcess, request: bytes) -> tuple[int, Any]:
    return parsed(answer_to(server, request))


def parsed(answer: bytes) -> tuple[int, Any]:
    """The status and JSON body of the answer; a text/plain answer fails here, and so
    does a refusal that leaves the connection open."""
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.split(b"\r\n")
    headers = dict(line.lower().split(b": ", 1) for line in header_lines)
    assert headers[b"content-type"].startswith(b"application/"), head
    status = int(status_line.split(b" ")[1])
    assert status == 200 or headers[b"connection"] == b"close", head
    return status, json.loads(body)


def status_and_code(server: ServerProcess, request: bytes) -> tuple[int, str]:
    status, body = exchange(server, request)
    (error,) = body["errors"]
    return status, str(error["extensions"]["code"])


def post(headers: bytes, body: bytes = TYPENAME, version: bytes = b"HTTP/1.1") -> bytes:
    """A POST of `body` to /graphql with these header lines (each ending in CRLF), a
    Content-Length unless they frame the body themselves, and `Connection: close`."""
    framed = b"content-length:" in headers.lower() or b"transfer-encoding:" in headers.lower()
    length = b"" if framed else b"Content-Length: %d\r\n" % len(body)
    return b"POST /graphql %s\r\n%s%sConnection: close\r\n\r\n%s" % (
        version,
        headers,
        length,
        body,
    )


def chunked(body: bytes) -> bytes:
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


@pytest.fixture(scope="module")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server, rate limits on as served, for the tests that only look at answers:
    they write nothing, read no log and hold no connection past their end."""
    with shared_server(redis_url, tmp_path_factory.mktemp("framing"), RATE_LIMITS_ON) as running:
        yield running


@pytest.fixture(scope="module")
def trailer_limited(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """The same, with a header limit (TRAILER_LIMIT) small enough to stream past."""
    env = {**RATE_LIMITS_ON, "INKWELL_MAX_HEADER_BYTES": str(TRAILER_LIMIT)}
    with shared_server(redis_url, tmp_path_factory.mktemp("trailers"), env) as running:
        yield running


def test_a_url_over_65535_bytes_gets_414_even_within_the_header_limit(
    start_server: StartServer,
) -> None:
    """httptools.parse_url refuses URLs over 65,535 bytes, and uvicorn answered them with
    a bare text/plain 400 even when the header limit allowed them."""
    server = start_server(INKWELL_MAX_HEADER_BYTES=str(256 * 1024))
    target = b"/graphql?query=%7B__typename%7D&padding="

    def get(url_bytes: int) -> bytes:
        url = target + b"p" * (url_bytes - len(target))
        return b"GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" % url

    assert exchange(server, get(65_535)) == SERVED
    assert exchange(server, get(65_536)) == (
        414,
        {
            "errors": [
                {
                    "message": "The URL is over 65535 bytes; send the query in a POST body.",
                    "extensions": {"code": "URI_TOO_LONG", "maxBytes": 65535},
                }
            ]
        },
    )
    assert status_and_code(server, get(200_000)) == (414, "URI_TOO_LONG")


def test_a_url_with_more_than_32_parameters_is_refused_before_it_is_parsed(
    server: ServerProcess,
) -> None:
    """Starlette parses a query string whole at about 0.8 us a parameter: 32,000 of them,
    under the URL limit, held the event loop 45-50 ms a request."""

    def get(path: bytes, parameters: int) -> bytes:
        url = path + b"?query=%7B__typename%7D" + b"&a=b" * (parameters - 1)
        return b"GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" % url

    assert exchange(server, get(b"/graphql", 32)) == SERVED
    assert exchange(server, get(b"/graphql", 33)) == (
        400,
        {
            "errors": [
                {
                    "message": "The URL has more than 32 query parameters; a GraphQL GET "
                    "takes query, variables, operationName and extensions.",
                    "extensions": {"code": "BAD_REQUEST", "maxParameters": 32},
                }
            ]
        },
    )
    flood = b"GET /graphql?query=%7B__typename%7D" + b"&" * 32_000 + b" HTTP/1.1\r\n"
    for request in (
        flood + b"Host: localhost\r\nConnection: close\r\n\r\n",
        get(b"/ready", 33),
        get(b"/graphql", 33).replace(b"Connection: close\r\n", WEBSOCKET_HANDSHAKE),
    ):
        assert status_and_code(server, request) == (400, "BAD_REQUEST")


def test_what_httptools_cannot_parse_gets_a_coded_json_400(server: ServerProcess) -> None:
    """uvicorn answered each of these with 400 text/plain "Invalid HTTP request
    received."."""
    malformed = {
        "an unknown method": b"BREW /graphql HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a raw 0xFF in the URL": b"GET /graph\xffql HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "bare LF line ends": post(JSON).replace(b"\r\n", b"\n"),
        "two Content-Length": post(JSON + b"Content-Length: 27\r\nContent-Length: 27\r\n"),
        "Content-Length and Transfer-Encoding": post(
            JSON + b"Content-Length: 27\r\nTransfer-Encoding: chunked\r\n"
        ),
        "a negative Content-Length": post(JSON + b"Content-Length: -27\r\n"),
        "an obs-fold": post(JSON + b"X-Folded: a\r\n b\r\n"),
        "a control character in a header": post(JSON + b"X-Control: a\x01b\r\n"),
    }
    answers = {name: exchange(server, request) for name, request in malformed.items()}
    bad_request = {
        "errors": [
            {
                "message": "The request is not well-formed HTTP/1.1.",
                "extensions": {"code": "BAD_REQUEST"},
            }
        ]
    }
    assert answers == dict.fromkeys(malformed, (400, bad_request))
    assert exchange(server, post(JSON)) == SERVED


def test_codings_other_than_chunked_and_identity_are_refused(server: ServerProcess) -> None:
    """`gzip, chunked` and a gzip Content-Encoding were both read as plain bodies."""
    gzip_chunked = post(JSON + b"Transfer-Encoding: gzip, chunked\r\n", chunked(TYPENAME))
    gzip_then_chunked = post(
        JSON + b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", chunked(TYPENAME)
    )
    for request in (gzip_chunked, gzip_then_chunked):
        assert status_and_code(server, request) == (501, "NOT_IMPLEMENTED")
    gzip_content = post(JSON + b"Content-Encoding: gzip\r\n")
    assert status_and_code(server, gzip_content) == (415, "UNSUPPORTED_MEDIA_TYPE")
    plain_chunked = post(JSON + b"Transfer-Encoding: Chunked\r\n", chunked(TYPENAME))
    assert exchange(server, plain_chunked) == SERVED
    assert exchange(server, post(JSON + b"Content-Encoding: identity\r\n")) == SERVED


def test_an_http_1_1_request_needs_exactly_one_host(server: ServerProcess) -> None:
    content_type = b"Content-Type: application/json\r\n"
    for hosts in (b"", b"Host: a\r\nHost: b\r\n"):
        assert status_and_code(server, post(hosts + content_type)) == (400, "BAD_REQUEST")
    assert exchange(server, post(content_type, version=b"HTTP/1.0")) == SERVED  # none in 1.0


def test_headers_the_app_reads_once_may_not_come_twice(
    start_server: StartServer, tmp_path: Path
) -> None:
    """Two Authorization headers: the first won, so [valid, junk] committed a createPost
    as the token's user, where a proxy that reads the last would have seen junk."""
    server = start_server()
    registered = httpx.post(
        f"{server.url}/graphql",
        json={"query": ops.REGISTER, "variables": {"input": {"name": "Twice"}}},
    ).json()
    token = registered["data"]["registerUser"]["token"].encode()
    variables = {"input": {"title": "T", "content": "C"}}
    create = json.dumps({"query": ops.CREATE_POST_POSITION_ONLY, "variables": variables})
    valid = b"Authorization: Bearer %s\r\n" % token
    junk = b"Authorization: Bearer junk\r\n"
    before = event_count(tmp_path)
    for twice in (
        valid + junk,
        junk + valid,
        valid + valid,
        b"X-Consistent-With: 1\r\nX-Consistent-With: 999999\r\n",
        b"Content-Type: text/plain\r\n",  # after JSON's application/json
    ):
        request = post(JSON + twice, create.encode())
        assert status_and_code(server, request) == (400, "BAD_REQUEST"), twice
    assert event_count(tmp_path) == before
    status, body = exchange(server, post(JSON + valid, create.encode()))
    assert status == 200 and "errors" not in body, body
    assert event_count(tmp_path) > before


def test_a_handshake_websockets_refuses_is_answered_in_graphql_json(
    server: ServerProcess,
) -> None:
    """websockets answered these in text/plain, quoting the client's value and Python's
    base64 error (an outside probe); the answer names the header, and nothing sent."""
    upgrade = b"Connection: Upgrade\r\nUpgrade: websocket\r\n"
    key = b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    version = b"Sec-WebSocket-Version: 13\r\n"
    refused = {
        b"Sec-WebSocket-Version": (key + b"Sec-WebSocket-Version: 8\r\n", key),
        b"Sec-WebSocket-Key": (
            version + b"Sec-WebSocket-Key: short\r\n",
            version,
            version + key + key,
            version + b"Sec-WebSocket-Key: c2hvcnQ=\r\n",  # base64, 5 bytes
        ),
    }
    for header, variants in refused.items():
        for variant in variants:
            handshake = b"GET /graphql HTTP/1.1\r\nHost: localhost\r\n%s%s\r\n" % (
                upgrade,
                variant,
            )
            status, body = exchange(server, handshake)
            (error,) = body["errors"]
            assert (status, error["extensions"]) == (400, {"code": "BAD_REQUEST"}), variant
            assert header.decode() in error["message"], error
            for quoted in ("short", "c2hvcnQ", "base64-encoded string", ": 8"):
                assert quoted not in error["message"], error
    assert exchange(server, post(JSON)) == SERVED


def test_websocket_handshakes_are_checked_like_any_request(server: ServerProcess) -> None:
    """A handshake from the websockets library is still upgraded; one over HTTP/1.0 got
    101 and is now refused; one with two Origin headers is still refused, by the
    WebSocket protocol."""

    async def acknowledged() -> object:
        async with websockets.connect(
            f"ws://127.0.0.1:{server.port}/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
        ) as socket_:
            await socket_.send(json.dumps({"type": "connection_init"}))
            return json.loads(await socket_.recv())

    assert asyncio.run(acknowledged()) == {"type": "connection_ack"}
    handshake = b"GET /graphql %s\r\nHost: localhost\r\n" + WEBSOCKET_HANDSHAKE
    over_1_0 = handshake % b"HTTP/1.0" + b"\r\n"
    assert status_and_code(server, over_1_0) == (400, "BAD_REQUEST")
    # llhttp reads HTTP/2.0 and 0.9 as versions: answered as 1.1, and upgraded.
    for version in (b"HTTP/2.0", b"HTTP/0.9"):
        over_2 = handshake % version + b"\r\n"
        assert status_and_code(server, over_2) == (505, "HTTP_VERSION_NOT_SUPPORTED")
        assert status_and_code(server, post(JSON, version=version)) == (
            505,
            "HTTP_VERSION_NOT_SUPPORTED",
        )
    two_origins = (
        handshake % b"HTTP/1.1" + b"Origin: http://a.test\r\nOrigin: http://b.test\r\n\r\n"
    )
    assert answer_to(server, two_origins).startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 403 "))


def test_a_handshake_websockets_cannot_read_is_answered_and_closed(
    server: ServerProcess,
) -> None:
    """Over websockets' limits (8,192 bytes a line, 128 headers), a handshake was refused by
    it with an answer uvicorn never wrote: no byte and no close for 180 s, and 1,500 such
    connections from one address held 1,500 descriptors, counted by no cap."""
    handshake = b"GET /graphql HTTP/1.1\r\nHost: localhost\r\n" + WEBSOCKET_HANDSHAKE
    cookie = b"Cookie: a=" + b"b" * 9_000 + b"\r\n\r\n"
    many = b"".join(b"X-H%d: v\r\n" % n for n in range(130)) + b"\r\n"
    for request in (handshake + cookie, handshake + many):
        assert status_and_code(server, request) == (431, "HEADERS_TOO_LARGE")
    # Just within: upgraded.
    fits = b"Cookie: a=" + b"b" * 8_000 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(handshake + fits)
        assert connection.recv(65536).startswith(b"HTTP/1.1 101 ")


def test_a_handshake_with_a_body_is_answered_and_closed(server: ServerProcess) -> None:
    """websockets refuses a handshake that carries a body, and answered it with nothing:
    an outside probe held 6,000 such connections open from one address, with no deadline
    and counted by no cap. `Content-Length: 0` is no body, and is upgraded."""
    handshake = b"GET /graphql HTTP/1.1\r\nHost: localhost\r\n" + WEBSOCKET_HANDSHAKE
    for framing in (b"Content-Length: 5\r\n\r\n", b"Content-Length: 5\r\n\r\nhello",
                    b"Transfer-Encoding: chunked\r\n\r\n", b"Transfer-Encoding: chunked\r\n\r\n"
                    b"5\r\nhello\r\n0\r\n\r\n"):  # fmt: skip
        assert status_and_code(server, handshake + framing) == (400, "BAD_REQUEST"), framing
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(handshake + b"Content-Length: 0\r\n\r\n")
        assert connection.recv(65536).startswith(b"HTTP/1.1 101 ")
    assert exchange(server, post(JSON)) == SERVED


def test_an_upgrade_other_than_websocket_is_ignored(server: ServerProcess) -> None:
    """`curl --http2` offers h2c on every request, a POST's included: it is answered over
    HTTP/1.1 (RFC 9110 7.8 lets a server ignore an Upgrade). httptools skipped the body
    of any request offering one: 400 "Unable to parse request body as JSON", and a
    request pipelined behind it got no answer (an outside probe)."""
    h2c = b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n"
    assert exchange(server, post(JSON + h2c)) == SERVED
    te = b"Transfer-Encoding: chunked\r\n"
    assert exchange(server, post(JSON + h2c + te, chunked(TYPENAME))) == SERVED
    assert exchange(server, post(JSON + b"Connection: upgrade\r\nUpgrade: foo\r\n")) == SERVED
    # What uvicorn does not take for a WebSocket handshake, by its own rule (a re-check
    # probe): a trailing space or tab, `upgrade` in a Connection header but the last.
    for not_websocket in (
        b"Connection: Upgrade\r\nUpgrade: websocket \r\n",
        b"Connection: Upgrade\r\nUpgrade: websocket\t\r\n",
        b"Connection: Upgrade\r\nConnection: keep-alive\r\nUpgrade: websocket\r\n",
    ):
        assert exchange(server, post(JSON + not_websocket)) == SERVED, not_websocket
    # The body in a read of its own.
    head, _, body = post(JSON + h2c).partition(b"\r\n\r\n")
    _, answer = streamed(server, [head + b"\r\n\r\n", body])
    assert parsed(answer) == SERVED
    # Kept alive, with a GET and a POST pipelined behind it.
    kept_alive = post(JSON + h2c).replace(b"Connection: close\r\n", b"")
    get = b"GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nHost: localhost\r\n" + h2c + b"\r\n"
    answer = answer_to(server, kept_alive + get + post(JSON))
    assert answer.count(b"HTTP/1.1 200 ") == 3, answer
    assert answer.count(b'{"data":{"__typename":"Query"}}') == 3, answer


def test_trailer_fields_are_not_headers(start_server: StartServer, tmp_path: Path) -> None:
    """uvicorn appended the trailer fields after a chunked body to the request's headers,
    past the checks on them: a token sent only as a trailer signed a viewer query and an
    updateProfile in. They are dropped now; a small trailer is still served."""
    server = start_server()
    registered = httpx.post(
        f"{server.url}/graphql",
        json={"query": ops.REGISTER, "variables": {"input": {"name": "Trailing"}}},
    ).json()
    token = registered["data"]["registerUser"]["token"].encode()
    trailer = b"Authorization: Bearer %s\r\n" % token

    def with_trailer(query: str, variables: dict[str, Any] | None = None) -> bytes:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        framed = b"%x\r\n%s\r\n0\r\n%s\r\n" % (len(body), body, trailer)
        return post(JSON + b"Transfer-Encoding: chunked\r\n", framed)

    assert exchange(server, with_trailer(ops.VIEWER)) == (200, {"data": {"viewer": None}})
    before = event_count(tmp_path)
    rename = with_trailer(ops.UPDATE_PROFILE, {"input": {"name": "Renamed"}})
    status, body = exchange(server, rename)
    codes = [error["extensions"]["code"] for error in body["errors"]]
    assert (status, codes) == (200, ["UNAUTHENTICATED"]), body
    assert event_count(tmp_path) == before
    small = b"%x\r\n%s\r\n0\r\nX-Sum: 1\r\n\r\n" % (len(TYPENAME), TYPENAME)
    assert exchange(server, post(JSON + b"Transfer-Encoding: chunked\r\n", small)) == SERVED


def test_a_trailer_section_over_the_header_limit_gets_431(trailer_limited: ServerProcess) -> None:
    """uvicorn read a trailer section without limit until the body deadline (100 MB of
    one was read for 24 s and answered 200), and httptools joins a field's pieces read by
    read, so four connections streaming one took another client's `{ __typename }` from
    0.7 ms to 3 s. It is held to the header limit, counted the same way: from the read
    after the one it began in."""
    begun = post(
        JSON + b"Transfer-Encoding: chunked\r\n",
        b"%x\r\n%s\r\n0\r\nX-T: " % (len(TYPENAME), TYPENAME),
    )
    sent, answer = streamed(trailer_limited, [begun, *(b"a" * 1024 for _ in range(1024))])
    assert sent - len(begun) < TRAILER_LIMIT + 8 * 1024, f"{sent} bytes read before refusing"
    assert parsed(answer) == (
        431,
        {
            "errors": [
                {
                    "message": (
                        f"The trailer section after the chunked body is over {TRAILER_LIMIT} bytes."
                    ),
                    "extensions": {"code": "HEADERS_TOO_LARGE", "maxBytes": TRAILER_LIMIT},
                }
            ]
        },
    )


def test_a_head_of_more_than_100_fields_gets_431(server: ServerProcess) -> None:
    """Only the head's bytes were bounded: 30,000 two-byte fields cost 15-18 ms each time,
    and eight connections sending them to /health held another client at p50 0.6 s."""

    def fields(count: int) -> bytes:
        return b"".join(b"X-%d: b\r\n" % i for i in range(count))

    # JSON holds Host and Content-Type; `post` adds Content-Length and Connection.
    assert exchange(server, post(JSON + fields(96))) == SERVED
    assert exchange(server, post(JSON + fields(97))) == (
        431,
        {
            "errors": [
                {
                    "message": "A request may have at most 100 header fields.",
                    "extensions": {"code": "HEADERS_TOO_LARGE", "maxFields": 100},
                }
            ]
        },
    )


def test_a_request_refused_in_a_pipeline_is_answered_after_those_before_it(
    server: ServerProcess,
) -> None:
    """The refusal was written as soon as the bad head was read: a GET pipelined ahead of
    it never got its answer, only the refusal (a re-check probe)."""
    fields = b"".join(b"X-%d: b\r\n" % i for i in range(101))
    first = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"
    kept = (
        b"POST /graphql HTTP/1.1\r\n"
        + JSON
        + b"Content-Length: %d\r\n\r\n%s"
        % (
            len(TYPENAME),
            TYPENAME,
        )
    )
    chunked_head = b"POST /graphql HTTP/1.1\r\n" + JSON + b"Transfer-Encoding: chunked\r\n\r\n"
    # And refused in its body (a re-check probe): the requests before it were dropped too.
    many_chunks = b"1\r\n{\r\n" * 5_000 + b"0\r\n\r\n"
    trailer = b"".join(b"X-%d: b\r\n" % i for i in range(150))
    handshake = b"GET /graphql HTTP/1.1\r\nHost: localhost\r\n" + WEBSOCKET_HANDSHAKE + b"\r\n"
    for refused, status in [
        (post(JSON + fields), 431),
        (chunked_head + b"zz\r\n", 400),  # a chunk size that is no number
        (chunked_head + b"3\r\nabcXYZ", 400),  # chunk data without its CRLF
        (chunked_head + many_chunks, 413),  # a refusal the parser then failed on too
        (chunked_head + b"1\r\n{\r\n0\r\n" + trailer + b"\r\n", 431),
        (handshake, 400),  # uvicorn had switched protocols ahead of the answers
    ]:
        answers = answer_to(server, first + kept + refused + first)
        statuses = [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", answers)]
        assert statuses == [200, 200, status], answers


def test_a_trailer_section_of_more_than_100_fields_gets_431(server: ServerProcess) -> None:
    """Trailer fields are dropped, each a parser callback all the same: 40,000 in one read
    cost 4.8 ms a request, and eight connections sending them held another client at p50
    24 ms (a re-check probe)."""

    def with_trailer(count: int) -> bytes:
        fields = b"".join(b"X-%d: b\r\n" % i for i in range(count))
        body = b"%x\r\n%s\r\n0\r\n%s\r\n" % (len(TYPENAME), TYPENAME, fields)
        return post(JSON + b"Transfer-Encoding: chunked\r\n", body)

    assert exchange(server, with_trailer(100)) == SERVED
    assert exchange(server, with_trailer(101)) == (
        431,
        {
            "errors": [
                {
                    "message": "The trailer section may have at most 100 fields.",
                    "extensions": {"code": "HEADERS_TOO_LARGE", "maxFields": 100},
                }
            ]
        },
    )


def test_a_chunk_size_line_over_the_header_limit_gets_413(trailer_limited: ServerProcess) -> None:
    """The parser skips a chunk's extensions (`1c;aaaa...`) without a callback, so they
    passed every limit: four connections sent 1 GB of one each, were read for 8.7 s,
    another client's p99 went to 779 ms, and all four were answered 200."""
    begun = post(JSON + b"Transfer-Encoding: chunked\r\n", b"%x;" % len(TYPENAME))
    sent, answer = streamed(trailer_limited, [begun, *(b"a" * 1024 for _ in range(1024))])
    assert sent - len(begun) < TRAILER_LIMIT + 8 * 1024, f"{sent} bytes read before refusing"
    message = f"A chunk's size line, with its extensions, may hold at most {TRAILER_LIMIT} bytes."
    assert parsed(answer) == (
        413,
        {
            "errors": [
                {
                    "message": message,
                    "extensions": {"code": "PAYLOAD_TOO_LARGE", "maxBytes": TRAILER_LIMIT},
                }
            ]
        },
    )


def test_chunked_bodies_and_trailers_split_across_reads_are_served(
    trailer_limited: ServerProcess,
) -> None:
    """Until a chunk's data comes, a chunk's size line could begin a trailer section:
    chunks bigger than the limit whose data come a read after their size, and a trailer
    that comes in pieces within the limit, are not counted against it."""
    body = TYPENAME[:-1] + b" " * (3 * 20_000 - len(TYPENAME)) + b"}"
    pieces = [post(JSON + b"Transfer-Encoding: chunked\r\n", b"")]
    for start in range(0, len(body), 20_000):
        pieces += [b"%x\r\n" % 20_000, body[start : start + 20_000] + b"\r\n"]
    pieces += [b"0\r\n", *(b"X-Sum-%d: %s\r\n" % (n, b"s" * 1000) for n in range(12)), b"\r\n"]
    sent, answer = streamed(trailer_limited, pieces)
    assert sent == sum(map(len, pieces))
    assert parsed(answer) == SERVED


def test_a_request_the_protocol_refuses_has_its_log_line_and_its_id(
    start_server: StartServer,
) -> None:
    """Refused before the app saw them, such requests had no request log line and no
    X-Request-Id: an operator counting 4xx from the log missed them (an outside probe).
    The client's id is kept when the head was read as far as it; else one is made."""
    server = start_server()
    refused = [
        (b"GET /graphql HTTP/1.1\r\nHost: a\r\nHost: b\r\nX-Request-Id: two-hosts\r\n",
         400, "/graphql", "two-hosts"),
        (b"GET /health HTTP/2.0\r\nHost: localhost\r\nX-Request-Id: version\r\n",
         505, "/health", "version"),
        (b"GET /graphql?%s HTTP/1.1\r\nHost: localhost\r\n" % b"&".join([b"a=1"] * 40),
         400, "/graphql", None),
        (b"GET /graphql HTTP/1.1\r\nX-Request-Id: bare-lf\r\nHost: localhost\nX-A: b\r\n",
         400, "/graphql", "bare-lf"),
    ]  # fmt: skip
    answered: dict[str, tuple[int, str]] = {}
    for head, status, path, given in refused:
        answer = answer_to(server, head + b"\r\n")
        assert answer.startswith(b"HTTP/1.1 %d " % status), answer[:200]
        found = re.search(rb"\r\nx-request-id: ([^\r]+)\r\n", answer)
        assert found is not None, answer[:400]
        request_id = found.group(1).decode()
        assert given is None or request_id == given
        answered[request_id] = (status, path)
    lines = [json.loads(line) for line in server.log.read_text().splitlines() if line[:1] == "{"]
    logged = {
        line["request_id"]: (line["status"], line["path"])
        for line in lines
        if line.get("logger") == "inkwell.requests" and "status" in line
    }
    assert {request_id: logged.get(request_id) for request_id in answered} == answered
