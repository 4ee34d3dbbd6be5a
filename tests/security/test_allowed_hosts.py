"""DNS rebinding: a page whose name now resolves to a developer's local server gets nothing
from it, since its requests name the page's Host; a server answers only for the names it
is told, the addresses it is reached at, and localhost (protection/allowed_hosts.py)."""

from __future__ import annotations

import dataclasses
import logging
import socket

import httpx2 as httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from harness.server_process import ServerProcess
from infra.settings import Settings
from protection.allowed_hosts import AllowedHosts, host_of
from tests.support.protected_server import StartServer
from wiring.asgi import warn_of_any_host

TYPENAME = {"query": "{ __typename }"}
HANDSHAKE = (
    b"GET /graphql HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\n"
    b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
)


def ask(server: ServerProcess, method: str, path: str, host: str, **headers: str) -> httpx.Response:
    body = TYPENAME if method == "POST" else None
    return httpx.request(
        method, f"{server.url}{path}", json=body, headers={"host": host, **headers}, timeout=30
    )


def handshake(server: ServerProcess, host: bytes) -> bytes:
    """A WebSocket handshake as a rebound page's browser sends it: Origin and Host agree."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(HANDSHAKE % (host, host))
        answer = connection.recv(65536)
    return answer


def test_a_page_rebound_to_a_loopback_server_is_refused_on_every_route(
    start_server: StartServer,
) -> None:
    """It was answered on every route, and its WebSocket, whose Origin matched its Host,
    was taken for a same-origin one."""
    server = start_server()
    evil = f"evil.example:{server.port}"
    for method, path in (
        ("POST", "/graphql"),
        ("GET", "/graphql?query=%7B__typename%7D"),
        ("GET", "/metrics"),
        ("GET", "/ready"),
        ("GET", "/health"),
        ("GET", "/"),
        ("GET", "/static/live.js"),
    ):
        for headers in ({}, {"x-forwarded-host": f"localhost:{server.port}"}):
            refused = ask(server, method, path, evil, origin=f"http://{evil}", **headers)
            assert refused.status_code == 421, (path, refused.text)
            assert refused.headers["content-type"] == "application/json"
            (error,) = refused.json()["errors"]
            assert error["extensions"] == {"code": "MISDIRECTED_REQUEST"}
    answer = handshake(server, evil.encode())
    assert answer.startswith(b"HTTP/1.1 421 "), answer
    assert b'"code":"MISDIRECTED_REQUEST"' in answer
    for host in (
        f"localhost:{server.port}",
        f"127.0.0.1:{server.port}",
        "[::1]:8000",
        "LOCALHOST.",
    ):
        assert ask(server, "POST", "/graphql", host).json() == {"data": {"__typename": "Query"}}
    assert handshake(server, f"localhost:{server.port}".encode()).startswith(b"HTTP/1.1 101 ")


def test_the_listed_names_are_served_and_no_others(start_server: StartServer) -> None:
    server = start_server(INKWELL_ALLOWED_HOSTS="blog.example, *.inkwell.test")
    for host in ("blog.example", "BLOG.example:443", "api.inkwell.test", "127.0.0.1", "localhost"):
        assert ask(server, "POST", "/graphql", host).status_code == 200, host
    for host in ("inkwell.test", "evil.example", "blog.example.evil", "blog.example@evil", ""):
        assert ask(server, "POST", "/graphql", host).status_code == 421, host


def raw_post(server: ServerProcess, target: bytes, host: bytes) -> bytes:
    body = b'{"query":"{ __typename }"}'
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(
            b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (target, host, len(body), body)
        )
        return b"".join(iter(lambda: connection.recv(65536), b""))


def test_a_host_named_in_the_request_line_is_the_one_checked(start_server: StartServer) -> None:
    """RFC 9112 3.2.2: a request line in absolute-form names the host, and Host is ignored.
    uvicorn kept only its path, so `POST http://evil.example/graphql` with a listed Host
    was answered (an outside probe, twice)."""
    server = start_server(INKWELL_ALLOWED_HOSTS="blog.example")
    port = str(server.port).encode()
    for target, host in (
        (b"http://evil.example:%s/graphql" % port, b"localhost"),
        (b"https://evil.example/graphql", b"blog.example"),
        (b"http://evil.example/static/live.js", b"127.0.0.1:%s" % port),
    ):
        answer = raw_post(server, target, host)
        assert answer.startswith(b"HTTP/1.1 421 "), (target, answer)
        assert b'"MISDIRECTED_REQUEST"' in answer
    for target in (
        b"ftp://blog.example/graphql",
        b"http://someone@blog.example/graphql",
        b"http://@blog.example/graphql",
    ):
        answer = raw_post(server, target, b"blog.example")
        assert answer.startswith(b"HTTP/1.1 400 "), (target, answer)
        assert b'"BAD_REQUEST"' in answer
    for target, host in (
        (b"http://blog.example/graphql", b"evil.example"),  # the line's host counts
        (b"HTTP://Blog.Example:443/graphql", b"blog.example"),
        (b"http://[::1]:%s/graphql" % port, b"blog.example"),
        (b"/graphql", b"blog.example"),
    ):
        answer = raw_post(server, target, host)
        assert answer.startswith(b"HTTP/1.1 200 "), (target, answer)
        assert answer.endswith(b'{"data":{"__typename":"Query"}}'), (target, answer)
    # Its path and query are the request's: a handshake took the whole URL for its path
    # and got a bare 403; a target with no path at all was a 400.
    absolute = HANDSHAKE.replace(b"GET /graphql", b"GET http://blog.example/graphql")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(absolute % (b"localhost", b"blog.example"))
        assert connection.recv(65536).startswith(b"HTTP/1.1 101 ")
    answer = raw_post(server, b"http://blog.example", b"blog.example")
    assert answer.startswith(b"HTTP/1.1 405 "), answer  # "/", the live page: GET only


@pytest.mark.parametrize(
    ("header", "parsed"),
    [
        (b"Blog.Example.:8000", ("blog.example", False)),
        (b"127.0.0.1:8301", ("127.0.0.1", True)),
        (b"[::1]:8000", ("::1", True)),
        (b"[::ffff:7f00:1]", ("::ffff:7f00:1", True)),
        (b"inkwell_api:8000", ("inkwell_api", False)),
        (b"10.1.2.3", ("10.1.2.3", True)),
        (b"evil.example/path", None),
        (b"user@localhost", None),
        (b"[evil.example]", None),
        (b"localhost:80:80", None),
        (b"", None),
    ],
)
def test_a_host_header_is_read_as_a_browser_writes_it(
    header: bytes, parsed: tuple[str, bool] | None
) -> None:
    assert host_of(header) == parsed


async def answered(names: tuple[str, ...] | None, server: tuple[str, int], host: bytes) -> int:
    """The status a request to `server` is answered with, under INKWELL_ALLOWED_HOSTS
    `names` (None: unset)."""
    scope: Scope = {"type": "http", "server": server, "headers": [(b"host", host)]}
    sent: list[Message] = []

    async def app(_scope: Scope, _receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def receive() -> Message:
        return {"type": "http.request"}

    async def send(message: Message) -> None:
        sent.append(message)

    await AllowedHosts(app, names)(scope, receive, send)
    return int(sent[0]["status"])


async def test_without_a_list_any_name_is_served_on_an_address_beyond_loopback() -> None:
    """A server behind a proxy, or on a platform, is sent whatever Host they send."""
    assert await answered(None, ("192.0.2.10", 8000), b"inkwell.internal:8000") == 200
    assert await answered(None, ("::ffff:127.0.0.1", 8000), b"inkwell.internal") == 421
    assert await answered(None, ("::1", 8000), b"inkwell.internal") == 421
    listed = ("blog.example",)
    assert await answered(listed, ("192.0.2.10", 8000), b"inkwell.internal:8000") == 421
    assert await answered(listed, ("192.0.2.10", 8000), b"blog.example") == 200


@pytest.mark.parametrize(
    ("host", "allowed_hosts", "warned"),
    [
        ("0.0.0.0", None, True),
        ("::", None, True),
        ("0.0.0.0", ("blog.example",), False),
        ("127.0.0.1", None, False),
        ("::1", None, False),
        ("localhost", None, False),
    ],
)
def test_a_server_beyond_loopback_without_a_list_says_so_at_startup(
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    host: str,
    allowed_hosts: tuple[str, ...] | None,
    warned: bool,
) -> None:
    with caplog.at_level(logging.WARNING, logger="wiring.asgi"):
        warn_of_any_host(dataclasses.replace(settings, host=host, allowed_hosts=allowed_hosts))
    assert ("INKWELL_ALLOWED_HOSTS is not set" in caplog.text) is warned
