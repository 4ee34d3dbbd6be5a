"""Refusals at the edge, as GraphQL-shaped JSON so every client can read them."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

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
    raw_headers = [
        (b"content-type", media_type_for(scope).encode()),
        (b"content-length", str(len(body)).encode()),
        # The rest of a refused body is never read: the connection cannot be reused.
        (b"connection", b"close"),
        *((name.lower().encode(), value.encode()) for name, value in (headers or {}).items()),
    ]
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
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in (headers or {}).items()),
    ]
    await send({"type": "websocket.http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "websocket.http.response.body", "body": body})


def refusal_body(message: str, extensions: dict[str, Any]) -> bytes:
    return orjson.dumps({"errors": [{"message": message, "extensions": extensions}]})


def media_type_for(scope: Scope) -> str:
    """The media type a refusal of this request goes in: what its Accept header takes of
    the two GraphQL media types, else application/json."""
    accept = next((value for name, value in scope["headers"] if name == b"accept"), None)
    return media.negotiate(accept.decode("latin-1") if accept is not None else None) or media.JSON
