"""ASGI middleware: a request id for every request, one log line per request, WebSocket counts.

The id is the client's `X-Request-Id` when it is sane, else a new one. Like a proxy
that sets the header, it writes the id into the request's headers, so the GraphQL
context takes it as the correlation id every command and event of the request
carries, and it answers with the id in `X-Request-Id`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain import ids
from observability.logs import REQUEST_ID
from observability.metrics import Metrics

log = logging.getLogger("inkwell.requests")

SANE_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
HEADER = b"x-request-id"
# Scrapes and probes arrive every few seconds: logged only at DEBUG.
QUIET_PATHS = frozenset({"/metrics", "/health", "/ready"})
CLIENT_CLOSED_REQUEST = 499
# Where the server's HTTP protocol notes, in a request's scope state, the status it answered
# the request with itself: it refuses a body mid-read (408 for one too slow, 400 for
# malformed chunks, wiring/http_protocol.py), and the app then sees only a disconnect.
# Logged as 499, a slow-body attack read as clients hanging up (an outside probe).
ANSWERED_BY_PROTOCOL = "inkwell.answered_by_protocol"
# Where it notes that the connection closed before the request's answer began. The app
# reads nothing more of a request it has whole, so it never hears of the close, and its
# answer goes nowhere: a client that gave up on a read-your-writes wait was logged 200,
# 5 s later (an outside probe).
LEFT_UNANSWERED = "inkwell.left_unanswered"
# A path longer than this is logged cut: 200 requests for a 65 KB path (to a 404) wrote
# 25.6 MB of log in 0.2 s, about 150 MB a minute within one address's request rate.
LOGGED_PATH_MAX = 256


def logged_path(scope: Scope) -> str:
    return _cut(scope["path"])


def _cut(path: str) -> str:
    if len(path) <= LOGGED_PATH_MAX:
        return path
    return f"{path[:LOGGED_PATH_MAX]}... ({len(path)} characters)"


def request_id(scope: Scope) -> str:
    return request_id_in(scope.get("headers", ()))


def request_id_in(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The client's X-Request-Id when it is sane, else a new one."""
    for name, value in headers:
        if name == HEADER:
            given: str = value.decode("latin-1")
            if SANE_ID.fullmatch(given):
                return given
    return ids.uuid4().hex


def log_refused(method: str, target: bytes, status: int, request_id: str) -> None:
    """The request line of a request the server's HTTP protocol refused before the app saw
    it (wiring/http_protocol.py: a malformed or ambiguous head, a version not served, a
    head over its size or deadline), as RequestLog writes one: such refusals had no line,
    and an operator counting 4xx from the log missed them (an outside probe)."""
    path = _cut(target.partition(b"?")[0].decode("latin-1") or "-")
    _request_line(logging.INFO, method, path, status, request_id=request_id)


class RequestLog:
    """Metrics come from `app.state.operations`, set by the app's lifespan."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        rid = request_id(scope)
        scope = _with_header(scope, rid)
        token = REQUEST_ID.set(rid)
        try:
            if scope["type"] == "http":
                await self._http(scope, receive, send, rid)
            else:
                await self._websocket(scope, receive, send, rid)
        finally:
            REQUEST_ID.reset(token)

    async def _http(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        started = time.perf_counter()
        status = 500  # what the server answers if the app fails before starting a response
        answered = left = False

        async def receiving() -> Message:
            nonlocal left
            message = await receive()
            left = left or message["type"] == "http.disconnect"
            return message

        async def sending(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
                headers = [*message.get("headers", ()), (HEADER, rid.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self._app(scope, receiving, sending)
        finally:
            state = scope.get("state", {})
            if (left and not answered) or state.get(LEFT_UNANSWERED):
                # The protocol refused the body, or the client left before the answer:
                # nginx's 499, not a failure.
                refused = state.get(ANSWERED_BY_PROTOCOL)
                status = CLIENT_CLOSED_REQUEST if refused is None else refused
            level = logging.DEBUG if scope["path"] in QUIET_PATHS else logging.INFO
            path, took = logged_path(scope), _took_ms(started)
            _request_line(level, scope["method"], path, status, duration_ms=took)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        """Counts a connection from its accept to its end. A handshake refused with an HTTP
        answer (a foreign Origin or Host, too many sockets) is not one: it is answered
        with X-Request-Id and logged as a request, as an HTTP refusal is. Those had
        neither, though every refusal is promised both (an outside probe)."""
        started = time.perf_counter()
        accepted, refused = False, 0
        operations = getattr(scope["app"].state, "operations", None)
        metrics: Metrics | None = operations.metrics if operations is not None else None

        async def sending(message: Message) -> None:
            nonlocal accepted, refused
            if message["type"] == "websocket.accept" and not accepted:
                accepted = True
                if metrics is not None:
                    metrics.websockets.inc()
                path = logged_path(scope)
                log.info("websocket %s opened", path, extra={"path": path})
            elif message["type"] == "websocket.http.response.start":
                refused = message["status"]
                headers = [*message.get("headers", ()), (HEADER, rid.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self._app(scope, receive, sending)
        finally:
            path = logged_path(scope)
            if accepted:
                if metrics is not None:
                    metrics.websockets.dec()
                log.info("websocket %s closed", path, extra={"path": path})
            elif refused:
                _request_line(logging.INFO, "GET", path, refused, duration_ms=_took_ms(started))


def _request_line(level: int, method: str, path: str, status: int, **more: object) -> None:
    """A request's line, one per request: answered by the app (with its duration), a refused
    handshake among them, or refused by the protocol (with its request id, read outside
    the request's context)."""
    fields = {"method": method, "path": path, "status": status, **more}
    log.log(level, "%s %s %d", method, path, status, extra=fields)


def _took_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _with_header(scope: Scope, rid: str) -> Scope:
    headers = [(k, v) for k, v in scope.get("headers", ()) if k != HEADER]
    copied: MutableMapping[str, Any] = dict(scope)
    copied["headers"] = [*headers, (HEADER, rid.encode())]
    return copied
