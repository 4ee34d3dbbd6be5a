"""Refusals at the edge, as GraphQL-shaped JSON so every client can read them."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from protection.throttle import RateLimited
from schema import media


async def refuse(
    scope: Scope,
    send: Send,
    status: int,
    message: str,
    extensions: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> None:
    """Sends the refusal in the media type the request accepts, as the GraphQL endpoint's
    own refusals are (application/json when it accepts neither: a refusal is not a 406)."""
    body = refusal_body(message, extensions)
    # The rest of a refused body is never read: the connection cannot be reused.
    raw_headers = _head(body, media_type_for(scope), {**(headers or {}), "connection": "close"})
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


async def refuse_handshake(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    message: str,
    extensions: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> None:
    """Refuses a WebSocket handshake with an HTTP answer, as `refuse` does a request's,
    where the server can send one before the handshake (uvicorn can); else by closing
    before it completes, which the client sees as an empty 403."""
    await receive()  # websocket.connect
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008})
        return
    body = refusal_body(message, extensions)
    raw_headers = _head(body, media.JSON, headers or {})
    await send({"type": "websocket.http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "websocket.http.response.body", "body": body})


def too_many(limited: RateLimited) -> tuple[int, str, dict[str, Any], dict[str, str]]:
    """The status, message, extensions and headers of a rate limit's refusal."""
    retry = limited.retry_after
    return (
        429,
        str(limited),
        {"code": "RATE_LIMITED", "retryAfter": retry},
        {"retry-after": str(retry)},
    )


def _head(body: bytes, media_type: str, headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", media_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in headers.items()),
    ]


def refusal_body(message: str, extensions: dict[str, Any]) -> bytes:
    return orjson.dumps({"errors": [{"message": message, "extensions": extensions}]})


def media_type_for(scope: Scope) -> str:
    """The media type a refusal of this request goes in: what its Accept header takes of
    the two GraphQL media types, else application/json."""
    accept = next((value for name, value in scope["headers"] if name == b"accept"), None)
    return media.negotiate(accept.decode("latin-1") if accept is not None else None) or media.JSON
