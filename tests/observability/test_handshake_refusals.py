"""A WebSocket handshake refused with an HTTP answer is answered with its X-Request-Id and
logged as a request, as an HTTP refusal is: an outside probe found a foreign Origin's
403, a foreign Host's 421 and the 51st socket's 429 with neither."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from infra.settings import LogSettings
from observability.library_logs import ForeignOriginLine
from observability.requests import RequestLog
from protection.responses import refuse_handshake


async def _refusing(scope: Scope, receive: Receive, send: Send) -> None:
    await refuse_handshake(scope, receive, send, 403, "Origin not allowed", {"code": "FORBIDDEN"})


def _handshake(headers: list[tuple[bytes, bytes]]) -> Scope:
    return {
        "type": "websocket",
        "path": "/graphql",
        "headers": headers,
        "extensions": {"websocket.http.response": {}},
        "app": SimpleNamespace(state=SimpleNamespace()),
    }


def _refused(scope: Scope) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(RequestLog(_refusing)(scope, receive, send))
    return sent


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[Any]:
    return [r for r in caplog.records if r.name == "inkwell.requests"]


def test_a_refused_handshake_carries_the_clients_request_id_and_has_its_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "inkwell.requests")
    start, _body = _refused(_handshake([(b"x-request-id", b"probe-7")]))
    assert start["type"] == "websocket.http.response.start"
    assert start["status"] == 403
    assert (b"x-request-id", b"probe-7") in start["headers"]
    (line,) = _request_lines(caplog)
    assert line.getMessage() == "GET /graphql 403"
    assert (line.method, line.path, line.status) == ("GET", "/graphql", 403)
    assert line.duration_ms >= 0


def test_without_an_id_it_gets_a_new_one(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "inkwell.requests")
    start, _body = _refused(_handshake([]))
    (rid,) = [value for name, value in start["headers"] if name == b"x-request-id"]
    assert len(rid) == 32
    assert len(_request_lines(caplog)) == 1


def test_strawberrys_warning_for_a_foreign_origin_names_the_setting_at_info() -> None:
    """Any page could write strawberry's WARNING once a handshake, naming its parameter."""
    record = logging.LogRecord(
        "strawberry.ws", logging.WARNING, "", 0,
        "Rejected WebSocket connection from origin %r to host %r. If pages on this origin "
        "should be able to connect, add it to `allowed_origins`.",
        ("http://evil.example", "api.example"), None,
    )  # fmt: skip
    assert ForeignOriginLine().filter(record)
    assert record.levelno == logging.INFO
    assert record.getMessage() == (
        "refused a WebSocket from origin 'http://evil.example' to host 'api.example': a "
        "page's origin must be listed in INKWELL_CORS_ORIGINS to connect"
    )
    filters = LogSettings("INFO", "json").config()["loggers"]["strawberry.ws"]["filters"]
    assert filters == ["strawberry.ws:observability.library_logs.ForeignOriginLine"]
