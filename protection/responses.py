"""Refusals at the edge, as GraphQL-shaped JSON so every client can read them."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import Send


async def refuse(
    send: Send,
    status: int,
    message: str,
    extensions: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> None:
    body = refusal_body(message, extensions)
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        # The rest of a refused body is never read: the connection cannot be reused.
        (b"connection", b"close"),
        *((name.lower().encode(), value.encode()) for name, value in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


def refusal_body(message: str, extensions: dict[str, Any]) -> bytes:
    return orjson.dumps({"errors": [{"message": message, "extensions": extensions}]})
