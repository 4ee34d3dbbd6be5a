"""The ASGI apps: GraphQL behind the edge protections, and a projector's operator endpoints.

Each app's lifespan runs Inkwell (wiring/bootstrap.py) and hands its services to the
routes through `app.state`. Served by `inkwell serve|api|project`, or by uvicorn:
`uvicorn --factory wiring.asgi:create_app`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route, WebSocketRoute

from infra.settings import Settings
from infra.shutdown_signal import on_shutdown_signal
from observability import endpoints
from observability.logs import write_at_once
from observability.requests import RequestLog
from protection import http_errors
from protection.allowed_hosts import AllowedHosts, is_loopback
from protection.body_limit import BodyLimit
from protection.config import EdgeLimits
from protection.preflight_rate import PreflightRate
from protection.request_rate import RequestRate
from protection.requests_at_once import RequestsAtOnce
from protection.subscription_budget import SubscriptionBudget
from protection.websocket_guard import WebSocketGuard
from schema.exposure import Exposure
from schema.limits.cost import CostLimit
from schema.served import build_schema
from schema.view import InkwellGraphQL
from web import routes as web
from web.cors import ListedOriginsCors
from web.playground import playground_headers, playground_html
from wiring import heap
from wiring.bootstrap import NAMES, Inkwell, running
from wiring.outages import STORE_OUTAGES
from wiring.projector_process import ProjectorProcess

log = logging.getLogger(__name__)


def routes(settings: Settings | None = None) -> list[BaseRoute]:
    edge = settings.edge if settings else EdgeLimits()
    exposure = settings.exposure if settings else Exposure()
    cost_limit = CostLimit(edge.max_query_cost, edge.max_subscription_cost)
    # An item of a live subscription waits out an outage as long as its topic does.
    if settings is None:
        schema = build_schema(cost_limit, exposure, STORE_OUTAGES)
    else:
        schema = build_schema(cost_limit, exposure, STORE_OUTAGES, settings.live_give_up_seconds)
    playground = (
        playground_html(subscriptions=schema.subscription is not None)
        if exposure.graphiql
        else None
    )
    graphql = InkwellGraphQL(
        schema,
        playground=playground,
        playground_headers=playground_headers(playground) if playground is not None else None,
        cdn_max_age=settings.cdn_max_age if settings else 0,
        max_response_bytes=edge.max_response_bytes,
        subscription_budget=SubscriptionBudget(edge.max_live_cost_per_address),
        allowed_origins=settings.cors_origins if settings else (),
    )
    return [
        Route("/graphql", graphql),
        WebSocketRoute("/graphql", graphql),
        *endpoints.routes(),
        *web.routes(playground=playground is not None),
    ]


def create_app(
    settings: Settings | None = None,
    *,
    projectors: bool = True,
    server_process: bool = False,
    projector_process: bool = False,
) -> Starlette:
    """The ASGI app; its lifespan runs Inkwell (`uvicorn --factory wiring.asgi:create_app`).
    `server_process`: the app is what this process serves until it exits, so its heap is
    settled once it has started (wiring/heap.py). `projector_process`: the projectors run
    in a child process that the app starts, from the same environment (`serve`)."""
    settings = settings or Settings.from_env()
    edge = settings.edge
    warn_of_any_host(settings)
    app = Starlette(
        routes=routes(settings),
        lifespan=lifespan(settings, projectors, server_process, projector_process),
        exception_handlers=http_errors.HANDLERS,
        middleware=[
            Middleware(RequestLog),
            Middleware(AllowedHosts, names=settings.allowed_hosts),
            *(
                [
                    Middleware(PreflightRate, origins=settings.cors_origins),
                    Middleware(
                        ListedOriginsCors,
                        origins=settings.cors_origins,
                        headers=settings.cors_headers,
                    ),
                ]
                if settings.cors_origins
                else []
            ),
            Middleware(BodyLimit, max_bytes=edge.max_body_bytes),
            Middleware(
                WebSocketGuard,
                max_message_bytes=edge.max_ws_message_bytes,
                max_per_address=edge.max_ws_per_address,
            ),
            Middleware(RequestRate),
            Middleware(
                RequestsAtOnce,
                cap=edge.max_requests_at_once_per_address if settings.rate_limits.enabled else None,
            ),
        ],
    )
    # Starlette answered /graphql/ with a 307 to a Location built from the request's Host
    # header: a redirect anyone can aim, for a path no client needs.
    app.router.redirect_slashes = False
    return app


def api_app() -> Starlette:
    """The app of an API-only process; uvicorn's workers each build one (`api --workers`)."""
    return create_app(projectors=False, server_process=True)


def projector_app(settings: Settings) -> Starlette:
    """A projector process's operator endpoints (/health, /ready, /metrics), without GraphQL."""
    warn_of_any_host(settings)
    return Starlette(
        routes=endpoints.routes(),
        lifespan=lifespan(settings, projectors=True, server_process=True),
        exception_handlers=http_errors.HANDLERS,
        middleware=[
            Middleware(RequestLog),
            Middleware(AllowedHosts, names=settings.allowed_hosts),
            Middleware(RequestRate),
        ],
    )


def warn_of_any_host(settings: Settings) -> None:
    """Without INKWELL_ALLOWED_HOSTS, a server that listens beyond loopback answers for
    any Host on those addresses (protection/allowed_hosts.py says why): said once, at
    startup."""
    if settings.allowed_hosts is None and not is_loopback(settings.host):
        log.warning(
            "HOST=%s listens beyond loopback and INKWELL_ALLOWED_HOSTS is not set: requests "
            "that reach it there are answered whatever Host they name, so a page on any "
            "domain can reach it by DNS rebinding from a browser on its network. List the "
            "names clients use (INKWELL_ALLOWED_HOSTS=blog.example.com), or * to accept any",
            settings.host,
        )


def lifespan(
    settings: Settings,
    projectors: bool,
    server_process: bool = False,
    projector_process: bool = False,
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def run(app: Starlette) -> AsyncIterator[None]:
        async with (
            running(settings, projectors=projectors and not projector_process) as inkwell,
            _projector_process(inkwell, projector_process),
        ):
            app.state.inkwell = inkwell
            app.state.services = inkwell.services
            app.state.operations = inkwell.operations
            app.state.throttle = inkwell.services.throttle
            if server_process:
                heap.settle()
            with on_shutdown_signal(functools.partial(_stopping, inkwell)):
                yield

    return run


def _stopping(inkwell: Inkwell) -> None:
    """On SIGTERM or SIGINT, before uvicorn's graceful wait: read-your-writes waits answer
    now, and log lines are no longer deferred (the process may end by its signal)."""
    inkwell.services.consistency.stop_waiting()
    write_at_once()


def _projector_process(inkwell: Inkwell, wanted: bool) -> AbstractAsyncContextManager[object]:
    if not wanted:
        return nullcontext()
    return ProjectorProcess(
        inkwell.redis_url,
        inkwell.redis,
        inkwell.keys,
        NAMES,
        demo=inkwell.settings.demo,
    )
