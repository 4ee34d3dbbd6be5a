"""The operator's HTTP endpoints: /health (liveness), /ready (readiness), /metrics (Prometheus).

They reach the running Inkwell through `app.state.operations`, set by the app's lifespan.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from observability.exposition import CONTENT_TYPE, Exposition
from observability.metrics import Metrics
from observability.progress import ProgressReader
from observability.readiness import Readiness, Verdict
from observability.recent_answer import RecentAnswer

log = logging.getLogger(__name__)

# Well inside Prometheus's default scrape timeout (10 s), so a dead Redis still lets
# the process's own counters through.
PROGRESS_TIMEOUT = 3.0


@dataclass(frozen=True)
class Operations:
    metrics: Metrics
    exposition: Exposition
    progress: ProgressReader
    readiness: Readiness


async def health(_request: Request) -> Response:
    """The process serves requests; nothing else is asked (a dead Redis is /ready's business)."""
    return JSONResponse({"status": "ok"})


def routes() -> list[BaseRoute]:
    """Each app's /ready and /metrics reuse their answer for up to a second
    (observability/recent_answer.py says why)."""
    verdicts: RecentAnswer[Verdict] = RecentAnswer()
    scrapes: RecentAnswer[bytes] = RecentAnswer()

    async def ready(request: Request) -> Response:
        """200 when ready or degraded (events parked), 503 when not; with `?strict`,
        degraded is 503 too (observability/readiness.py says why)."""
        operations: Operations = request.app.state.operations
        verdict = await verdicts.get(operations.readiness.check)
        strict = "strict" in request.query_params
        ok = verdict.ready and not (strict and verdict.degraded)
        return JSONResponse(verdict.body(), status_code=200 if ok else 503)

    async def metrics(request: Request) -> Response:
        operations: Operations = request.app.state.operations
        return Response(await scrapes.get(lambda: _scrape(operations)), media_type=CONTENT_TYPE)

    return [
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


async def _scrape(operations: Operations) -> bytes:
    try:
        progress = await asyncio.wait_for(operations.progress.read(), PROGRESS_TIMEOUT)
    except Exception as error:  # the process's own counters still count, Redis errors first
        log.warning("metrics: projection progress unreadable (%s: %s)", type(error).__name__, error)
        progress = None
    return operations.exposition.render(progress)
