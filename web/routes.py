"""The browser's routes: the static files under `/static`."""

from __future__ import annotations

import os
from pathlib import Path

from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from web.assets import STATIC_DIR, STATIC_URL, VENDOR_DIR


class Static(StaticFiles):
    """Vendored files live under versioned paths, so browsers may keep them for good; the
    rest must be revalidated (the ETag makes that a 304)."""

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope,
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
    return [Mount(STATIC_URL, app=Static(directory=STATIC_DIR), name="static")]
