"""The browser's routes: the live page at `/` and the static files under `/static`."""

from __future__ import annotations

import os
from mimetypes import guess_type
from pathlib import Path

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    MalformedRangeHeader,
    RangeNotSatisfiable,
    Response,
)
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from web.assets import GZIP_SUFFIX, STATIC_DIR, STATIC_URL, VENDOR_DIR, WEB_DIR

# The live page runs only its own files and talks only to its own origin, so even a
# rendering bug could not run a script smuggled into a post.
LIVE_PAGE_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)


# Accept-Encoding and If-None-Match as clients send them: a few codings, an ETag or a few.
# Read whole, 64 KB of one cost 6-9 ms (Accept-Encoding) and 3.3 ms (If-None-Match) of the
# event loop a request, and 8 connections asking for a vendored file so, within their
# address's request rate, held another client at p50 42 ms (an outside probe). Longer
# ones are not read: the file goes whole, as to a client that sent neither.
MAX_NEGOTIATION_BYTES = 1024


class Static(StaticFiles):
    """Vendored files live under versioned paths, so browsers may keep them for good; the
    rest must be revalidated (the ETag makes that a 304). A vendored file goes as its gzip
    copy (web/assets.py) to a client that accepts gzip: GraphiQL's script is 0.7 MB
    instead of 3.5 MB, and the copy has its own ETag."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        path = Path(full_path)
        vendored = path.is_relative_to(VENDOR_DIR)
        if vendored and path.name.endswith(GZIP_SUFFIX):
            # A copy is another form of its file, not a file: asked for by its own name it
            # went as raw gzip labelled text/javascript (an outside probe).
            raise HTTPException(404)
        copy = path.with_name(path.name + GZIP_SUFFIX)
        compressed = vendored and copy.is_file()
        if compressed and accepts_gzip(Headers(scope=scope).get("accept-encoding", "")):
            response = super().file_response(copy, copy.stat(), scope, status_code)
            if response.status_code != 304:
                response.headers["content-type"] = _media_type(path)
                response.headers["content-encoding"] = "gzip"
        else:
            response = super().file_response(full_path, stat_result, scope, status_code)
        _refuse_bad_range(response, scope)
        response.headers["cache-control"] = (
            "public, max-age=31536000, immutable" if vendored else "no-cache"
        )
        response.headers["x-content-type-options"] = "nosniff"
        if compressed:
            response.headers["vary"] = "Accept-Encoding"
        return response

    def is_not_modified(self, response_headers: Headers, request_headers: Headers) -> bool:
        if len(request_headers.get("if-none-match", "")) > MAX_NEGOTIATION_BYTES:
            return False
        return super().is_not_modified(response_headers, request_headers)


def _refuse_bad_range(response: Response, scope: Scope) -> None:
    """A Range header the file's answer would use and cannot: raised as Starlette's
    HTTPException, answered coded as every other HTTP error (protection/http_errors.py).
    Starlette's FileResponse answered it in text/plain without a code ("Only support
    bytes range", an empty 416). Read with its own parser, as it would read it."""
    headers = Headers(scope=scope)
    http_range, if_range = headers.get("range"), headers.get("if-range")
    if not isinstance(response, FileResponse) or http_range is None or response.status_code != 200:
        return
    if if_range is not None and not response._should_use_range(if_range):
        return  # the whole file goes, as Starlette sends it
    size = int(response.headers["content-length"])
    try:
        FileResponse._parse_range_header(http_range, size)
    except MalformedRangeHeader as error:
        raise HTTPException(400, f"The Range header is not valid: {error.content}") from None
    except RangeNotSatisfiable:
        raise HTTPException(
            416,
            f"The Range header asks for bytes past the end of the file ({size} bytes).",
            {"Content-Range": f"bytes */{size}"},
        ) from None


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding value takes gzip (RFC 9110 12.5.3): named, or `*`,
    with a quality above 0; a gzip named with q=0 is refused whatever `*` says. One longer
    than MAX_NEGOTIATION_BYTES is not read: the file goes as it is."""
    if len(accept_encoding) > MAX_NEGOTIATION_BYTES:
        return False
    qualities: dict[str, float] = {}
    for part in accept_encoding.split(","):
        coding, *parameters = (piece.strip() for piece in part.split(";"))
        qualities[coding.lower()] = _quality(parameters)
    return qualities.get("gzip", qualities.get("x-gzip", qualities.get("*", 0.0))) > 0


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def _media_type(path: Path) -> str:
    """What Starlette's FileResponse says for the file itself."""
    media_type = guess_type(path.name)[0] or "text/plain"
    return f"{media_type}; charset=utf-8" if media_type.startswith("text/") else media_type


PLAYGROUND_LINK = '\n        <a href="/graphql">playground</a>'


def routes(*, playground: bool = True) -> list[BaseRoute]:
    """Reads the live page once, when the app is built; without the playground (production)
    the page has no link to it: it led to a 404."""
    page = (WEB_DIR / "live.html").read_text(encoding="utf-8")
    if not playground:
        if page.count(PLAYGROUND_LINK) != 1:
            raise RuntimeError("web/live.html no longer links to the playground as expected")
        page = page.replace(PLAYGROUND_LINK, "")

    async def live(request: Request) -> Response:
        return HTMLResponse(
            page,
            headers={
                "content-security-policy": LIVE_PAGE_POLICY,
                "cache-control": "no-cache",
                "x-content-type-options": "nosniff",
            },
        )

    return [
        Route("/", live, methods=["GET", "HEAD"], name="live"),
        Mount(STATIC_URL, app=Static(directory=STATIC_DIR), name="static"),
    ]
