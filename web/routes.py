"""The browser's routes: the live page at `/` and the static files under `/static`."""

from __future__ import annotations

import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from web.assets import STATIC_DIR, STATIC_URL, VENDOR_DIR, WEB_DIR

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


class Static(StaticFiles):
    """Vendored files live under versioned paths, so browsers may keep them for good; the
    rest must be revalidated (the ETag makes that a 304)."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        vendored = Path(full_path).is_relative_to(VENDOR_DIR)
        response.headers["cache-control"] = (
            "public, max-age=31536000, immutable" if vendored else "no-cache"
        )
        response.headers["x-content-type-options"] = "nosniff"
        return response


def routes() -> list[BaseRoute]:
    """Reads the live page once, when the app is built."""
    page = (WEB_DIR / "live.html").read_text(encoding="utf-8")

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
