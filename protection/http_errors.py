"""The app's own HTTP errors as GraphQL responses, like every refusal at the edge: no route
for a path (404), a method a route does not take (405), anything a route raises (500).

Starlette answered them in text/plain without a code ("Not Found", "Method Not
Allowed", "Internal Server Error"), so a client had to tell them from Inkwell's own
answers by their status alone. Now each is `{"errors": [{"message", "extensions":
{"code"}}]}` in the media type the request accepts, a 405 with its Allow header, and
its message names the methods Allow does.
"""

from __future__ import annotations

from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ExceptionHandler

from protection.responses import media_type_for, refusal_body

GRAPHQL_PATH = "/graphql"


async def http_error(request: Request, error: Exception) -> Response:
    """Starlette's HTTPException: raised by its router and by StaticFiles."""
    assert isinstance(error, HTTPException)
    headers = dict(error.headers or {})
    if error.status_code == 404:
        message = f"Nothing is served at this path; GraphQL is served at {GRAPHQL_PATH}."
    elif error.status_code == 405:
        allowed = headers.get("Allow", "")
        message = f"{request.method} is not allowed here; this path takes {_listed(allowed)}."
    else:
        message = error.detail
    return coded(request, error.status_code, message, headers)


async def internal_error(request: Request, _error: Exception) -> Response:
    """For Starlette's ServerErrorMiddleware, which logs the traceback after this answer."""
    return coded(request, 500, "The server failed to answer this request.")


def coded(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    """A GraphQL response without data, whose code is the status's name (NOT_FOUND,
    METHOD_NOT_ALLOWED, INTERNAL_SERVER_ERROR ...), as the edge's codes are."""
    code = HTTPStatus(status).name
    body = refusal_body(message, {"code": code})
    return Response(body, status, headers, media_type=media_type_for(request.scope))


def _listed(allow: str) -> str:
    """Allow's "GET, HEAD, POST" as "GET, HEAD or POST"."""
    methods = [method.strip() for method in allow.split(",") if method.strip()]
    if len(methods) < 2:
        return "".join(methods) or "no method"
    return f"{', '.join(methods[:-1])} or {methods[-1]}"


HANDLERS: dict[type[Exception], ExceptionHandler] = {
    HTTPException: http_error,
    Exception: internal_error,
}
