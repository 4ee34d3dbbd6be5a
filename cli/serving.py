"""`inkwell serve|api|project`: the processes that serve GraphQL and keep the read models,
and `inkwell schema`, the SDL they serve.

The GraphQL app, uvicorn and the edge's protocols are imported by the commands that
serve them, not here: every `inkwell` command imports this module, and `serve` starts
its projector process as `inkwell project`, which needs none of them (0.5 s of start-up
CPU each, in every CLI tool and every projector process).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
import uvloop

from cli.environment import read_server_checked, redis_or_exit, settings_or_exit
from infra.settings import DEMO_DELAY, LogSettings, Settings
from infra.shutdown_signal import stop_on_hangup, unwind_on_sigterm
from wiring import heap
from wiring.bootstrap import running

if TYPE_CHECKING:
    from starlette.applications import Starlette

log = logging.getLogger("inkwell")

# After SIGTERM, how long uvicorn lets open requests and subscriptions finish before it
# cancels them: a read-your-writes wait or a WebSocket must not hold a shutdown up.
SHUTDOWN_GRACE_SECONDS = 2
# How long `api --workers`' supervisor waits for a worker to answer its health check
# before it kills the worker and starts another (uvicorn's default is 5 s). A new worker
# answers only once it has imported the app, which took 8 s on a busy two-core machine:
# every replacement was killed while it started, 6 and 7 in a row (an outside probe).
WORKER_ANSWER_SECONDS = 30


def serve(
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help=f"Demo mode: allows {DEMO_DELAY}, which slows the projectors so that the "
            "live page shows a write reaching the read models late.",
        ),
    ] = False,
) -> None:
    """Serves GraphQL on HOST:PORT and runs every projection in a process of its own."""
    import uvicorn

    from wiring.asgi import create_app

    unwind_on_sigterm()
    stop_on_hangup()
    settings = settings_or_exit(demo=demo, new_log=True, listens=True, writes=True)
    if settings.demo_projection_delay:
        log.warning(
            "demo mode: every projector batch but recent_events waits %.0f ms",
            settings.demo_projection_delay * 1000,
        )
    with redis_or_exit(settings) as settings:
        read_server_checked(settings)
        uvicorn.run(
            create_app(settings, server_process=True, projector_process=True),
            host=settings.host,
            port=settings.port,
            **_uvicorn_logging(),
            **_uvicorn_edge(settings),
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        )


def api(
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes; set PROMETHEUS_MULTIPROC_DIR with >1.")
    ] = 1,
) -> None:
    """Serves GraphQL only; projections run elsewhere (`project`), on the same REDIS_URL."""
    import uvicorn

    from wiring.asgi import create_app

    unwind_on_sigterm()
    stop_on_hangup()
    settings = settings_or_exit(new_log=True, listens=True, writes=True)
    with redis_or_exit(settings) as settings:
        read_server_checked(settings)
        if workers == 1:
            app: Starlette | str = create_app(settings, projectors=False, server_process=True)
        else:
            if settings.metrics_dir is None:
                log.warning(
                    "%d workers without PROMETHEUS_MULTIPROC_DIR: each /metrics "
                    "answer shows one worker's counters only",
                    workers,
                )
            # The workers read their settings from the environment: all of them use this
            # Redis. Each used to start an embedded one when none ran, and the second
            # unlinked the first's socket, which then ran on unreachable.
            assert settings.redis_url is not None
            os.environ["REDIS_URL"] = settings.redis_url
            app = "wiring.asgi:api_app"
        uvicorn.run(
            app,
            factory=workers > 1,
            workers=workers,
            host=settings.host,
            port=settings.port,
            **_uvicorn_logging(),
            **_uvicorn_edge(settings),
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
            timeout_worker_healthcheck=WORKER_ANSWER_SECONDS,
        )


def project(
    port: Annotated[
        int | None,
        # Ranged as PORT is: 70000 was taken modulo 65536 and listened on 4464, and -1
        # was blamed on HOST (an outside probe).
        typer.Option(
            min=0, max=65535, help="Also answer /health, /ready and /metrics on this port."
        ),
    ] = None,
    until_stdin_closes: Annotated[
        bool, typer.Option(hidden=True, help="Run as `serve`'s projector process.")
    ] = False,
    demo: Annotated[bool, typer.Option(hidden=True, help="`serve --demo`'s projectors.")] = False,
) -> None:
    """Runs the projections only, keeping the read models current until interrupted."""
    unwind_on_sigterm()
    stop_on_hangup()
    settings = settings_or_exit(
        demo=demo,
        new_log=True,
        listens=port is not None,
        port=port,
        names_unread=not until_stdin_closes,
    )
    with redis_or_exit(settings) as settings:
        if port is None:
            uvloop.run(_follow(settings, until_stdin_closes))  # as uvicorn runs the others
            return
        import uvicorn

        from wiring.asgi import projector_app
        from wiring.http_protocol import bounded_http_protocol

        uvicorn.run(
            projector_app(settings),
            host=settings.host,
            port=port,
            http=bounded_http_protocol(settings.edge),
            **_uvicorn_logging(),
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        )


async def _follow(settings: Settings, until_stdin_closes: bool) -> None:
    async with running(settings):
        heap.settle()  # as every server process does once started (wiring/heap.py)
        await _stop_requested(until_stdin_closes)


async def _stop_requested(or_stdin_closed: bool) -> None:
    """Returns on SIGTERM (or SIGHUP, which stop_on_hangup makes one) or SIGINT, or when
    stdin closes if asked, so that the process stops in order: its runners let their
    leases go at once (a killed projector's are held until their term ends) and its
    connections are closed."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if or_stdin_closed:
        stdin = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
        closed = asyncio.create_task(stdin.read())  # it never writes: read() ends at EOF
        closed.add_done_callback(lambda _: stop.set())
    await stop.wait()


def print_schema() -> None:
    """Prints the served schema's SDL, for codegen tools (schema.graphql holds a copy)."""
    from schema.served import build_schema

    typer.echo(build_schema().as_str())


def _uvicorn_edge(settings: Settings) -> dict[str, Any]:
    """Request heads and bodies are read within size and time limits, and each client
    address may hold so many connections open (wiring/http_protocol.py); WebSocket
    messages over the limit are refused by the transport before they are buffered whole;
    X-Forwarded-For is believed only from the proxies named; frames are compressed only
    when the operator asks (protection/config.py says why), and those written in one turn
    of the loop go out joined, up to eight to a write (wiring/websocket_protocol.py), and
    a socket whose client does not read holds at most an answer's worth of bytes before
    it is closed (wiring/websocket_backlog.py), and all the connections of an address
    together at most its unsent budget (protection/unsent_budget.py) and its frames that
    are no message (protection/frame_budgets.py)."""
    from protection.connection_cap import ConnectionsPerAddress
    from protection.frame_budgets import FrameBudgets
    from protection.unsent_budget import UnsentBudget
    from wiring.http_protocol import bounded_http_protocol
    from wiring.websocket_frames import bounded_websocket_protocol

    edge = settings.edge
    proxies = edge.trusted_proxies
    per_client = settings.rate_limits.enabled  # with the other limits per client
    per_address = (
        ConnectionsPerAddress(edge.max_connections_per_address, proxies) if per_client else None
    )
    # One budget for both protocols: an address's HTTP connections and WebSockets together.
    unsent = UnsentBudget(edge.max_unsent_bytes_per_address, proxies) if per_client else None
    frames = FrameBudgets(proxies) if per_client else None
    return {
        "http": bounded_http_protocol(edge, per_address, unsent),
        "ws": bounded_websocket_protocol(edge, unsent, frames),
        "ws_max_size": edge.max_ws_message_bytes,
        "ws_per_message_deflate": edge.ws_compression,
        "proxy_headers": proxies is not None,
        "forwarded_allow_ips": proxies,
    }


def _uvicorn_logging() -> dict[str, Any]:
    """Uvicorn's lines go through our handlers (in every worker); RequestLog replaces its
    access log with lines that carry the request id."""
    log_settings = LogSettings.from_env()
    return {
        "log_config": log_settings.config(),
        "log_level": log_settings.level.lower(),
        "access_log": False,
    }
