"""Inkwell's command line; wiring/ builds what it runs (bootstrap.py) and serves it (asgi.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import logging.config
import os
import random
import secrets
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx2 as httpx
import typer
import uvicorn
from redis.asyncio import Redis
from rich.console import Console
from starlette.applications import Starlette

from cli.demo import Demo
from cli.events import tail
from cli.parked import ParkedCommands, operator
from cli.rebuild import rebuild_with_progress
from cli.seed import Seeder
from cli.status import show_status
from eventstore.engines import Engines, open_engines
from eventstore.log_reader import LogReader
from eventstore.store import SqlEventStore
from eventstore.writer import GroupCommitWriter
from infra import embedded_redis
from infra.settings import DEMO_DELAY, LogSettings, SettingsError
from infra.settings import Settings as Settings
from observability.progress import ProgressReader
from projections import verify as verification
from projections.consistency import ConsistencyTimeout
from projections.failures import RebuildRunning
from projections.keys import Keys
from projections.spaces import drop_space
from schema import build_schema
from wiring.asgi import create_app, projector_app, routes
from wiring.bootstrap import NAMES, PROJECTIONS, running

log = logging.getLogger("inkwell")

# After SIGTERM, how long uvicorn lets open requests and subscriptions finish before it
# cancels them: a read-your-writes wait or a WebSocket must not hold a shutdown up.
SHUTDOWN_GRACE_SECONDS = 2


def tools_redis_url(settings: Settings) -> str | None:
    """Where operator commands find the read models: REDIS_URL, else the embedded Redis of
    the server running on INKWELL_DATA_DIR; None when neither is there."""
    return settings.redis_url or embedded_redis.running_in(settings.data_dir)


def _no_redis(settings: Settings) -> typer.Exit:
    Console(stderr=True).print(
        f"[red]no Redis to read: REDIS_URL is unset and no Inkwell server runs on "
        f"{settings.data_dir}/ (nothing answers on "
        f"{embedded_redis.socket_path(settings.data_dir)}). Start the server (`inkwell serve`) "
        "from this directory, set INKWELL_DATA_DIR to its data directory, or set REDIS_URL.[/]",
        markup=True,
        highlight=False,
    )
    return typer.Exit(2)


cli = typer.Typer(help="Inkwell: a CQRS blog backend.", no_args_is_help=False, add_completion=False)


def _settings(*, demo: bool = False) -> Settings:
    """The settings of a CLI command; a refused one ends it with its reason, exit code 2."""
    try:
        return Settings.from_env(demo=demo)
    except SettingsError as error:
        Console(stderr=True).print(f"[red]{error}[/]", highlight=False)
        raise typer.Exit(2) from None


@cli.callback(invoke_without_command=True)
def main(ctx: typer.Context) -> None:
    """With no command, serves the API and runs the projectors (like `serve`)."""
    logging.config.dictConfig(LogSettings.from_env().config())
    if ctx.invoked_subcommand is None:
        serve()


@cli.command()
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
    """Serves GraphQL on HOST:PORT and runs every projection in the same process."""
    settings = _settings(demo=demo)
    if settings.demo_projection_delay:
        log.warning(
            "demo mode: every projector batch but recent_events waits %.0f ms",
            settings.demo_projection_delay * 1000,
        )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        **_uvicorn_logging(),
        **_uvicorn_limits(settings),
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
    )


@cli.command()
def api(
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes; set PROMETHEUS_MULTIPROC_DIR with >1.")
    ] = 1,
) -> None:
    """Serves GraphQL only; projections run elsewhere (`project`). Needs REDIS_URL."""
    settings = _settings()
    if workers == 1:
        app: Starlette | str = create_app(settings, projectors=False)
    else:
        if settings.metrics_dir is None:
            log.warning(
                "%d workers without PROMETHEUS_MULTIPROC_DIR: each /metrics "
                "answer shows one worker's counters only",
                workers,
            )
        app = "wiring.asgi:api_app"
    uvicorn.run(
        app,
        factory=workers > 1,
        workers=workers,
        host=settings.host,
        port=settings.port,
        **_uvicorn_logging(),
        **_uvicorn_limits(settings),
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
    )


def _uvicorn_limits(settings: Settings) -> dict[str, Any]:
    """WebSocket messages over the limit are refused by the transport before they are
    buffered whole; X-Forwarded-For is believed only from the proxies named."""
    proxies = settings.edge.trusted_proxies
    return {
        "ws_max_size": settings.edge.max_ws_message_bytes,
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


@cli.command()
def project(
    port: Annotated[
        int | None, typer.Option(help="Also answer /health, /ready and /metrics on this port.")
    ] = None,
) -> None:
    """Runs the projections only, keeping the read models current until interrupted."""
    settings = _settings()
    if port is not None:
        uvicorn.run(
            projector_app(settings),
            host=settings.host,
            port=port,
            **_uvicorn_logging(),
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        )
        return

    async def follow() -> None:
        async with running(settings):
            await asyncio.Event().wait()

    asyncio.run(follow())


@asynccontextmanager
async def inspecting(settings: Settings) -> AsyncIterator[tuple[Redis | None, LogReader]]:
    """What operator commands read through: no writer, no projectors, and the server's
    Redis (REDIS_URL, or the embedded one of the server on the data directory)."""
    engines = open_engines(settings.database_url)
    url = tools_redis_url(settings)
    redis = Redis.from_url(url, decode_responses=True) if url else None
    try:
        yield redis, LogReader(engines.reader)
    finally:
        if redis is not None:
            await redis.aclose()
        engines.dispose()


@cli.command()
def status() -> None:
    """Shows every projection: position, log head, lag, state, parked events.

    Exits 1 when a projection is stalled or has parked events, 2 when no Redis is found.
    """
    settings = _settings()
    console = Console()
    if tools_redis_url(settings) is None:
        raise _no_redis(settings)
    names = NAMES

    async def show() -> bool:
        async with inspecting(settings) as (redis, log_reader):
            assert redis is not None
            progress = await ProgressReader(redis, Keys(settings.prefix), names, log_reader).read()
        return show_status(console, progress, settings.ready_stalled_after)

    if not asyncio.run(show()):
        raise typer.Exit(1)


def _quiet_per_command_logs() -> None:
    """Commands that print their own account would drown in a line per command and batch."""
    for name in ("inkwell.commands", "inkwell.requests", "projections.runner"):
        logging.getLogger(name).setLevel(logging.WARNING)


events_cli = typer.Typer(help="Reads the event log.", no_args_is_help=True)
cli.add_typer(events_cli, name="events")


@events_cli.command("tail")
def events_tail(
    stream: Annotated[
        str | None, typer.Option(help="Only this stream, e.g. post-<id> or user-<id>.")
    ] = None,
    last: Annotated[int, typer.Option("--last", "-n", min=0, help="How many to show.")] = 20,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Prints the newest events of the log, oldest first; --follow keeps printing.

    Each line: position, commit time, stream, version, type, command id, correlation id, data.
    Following reads the log itself, so it misses nothing.
    """
    settings = _settings()

    async def show() -> None:
        async with inspecting(settings) as (_, log_reader):
            await tail(
                log_reader, Console(), last=last, stream_id=stream, follow=follow, as_json=as_json
            )

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a --follow ends
        asyncio.run(show())


parked_cli = typer.Typer(
    help="Events the projections set aside: list, retry or skip them.", no_args_is_help=True
)
cli.add_typer(parked_cli, name="parked")
ProjectionOption = Annotated[
    str | None, typer.Option("--projection", help="Only this projection [default: all].")
]
ByOption = Annotated[
    str | None, typer.Option("--by", help="Who is acting, for the log [default: the OS user].")
]


@asynccontextmanager
async def _parked_commands(
    settings: Settings,
) -> AsyncIterator[tuple[ParkedCommands, SqlEventStore, Engines]]:
    """The parked commands' tools: the server's Redis, and the log to re-read events from."""
    url = tools_redis_url(settings)
    if url is None:
        raise _no_redis(settings)
    engines = open_engines(settings.database_url)
    redis = Redis.from_url(url, decode_responses=True)
    try:
        store = SqlEventStore(engines, GroupCommitWriter(engines, lambda _: None))
        yield ParkedCommands(redis, Keys(settings.prefix), PROJECTIONS, Console()), store, engines
    finally:
        await redis.aclose()
        engines.dispose()


@parked_cli.command("list")
def parked_list(
    projection: ProjectionOption = None,
    history: Annotated[int, typer.Option(min=0, help="Operator actions to show.")] = 10,
) -> None:
    """Shows every parked event: position, stream, type, when, and why.

    Exits 1 if any."""

    async def show() -> int:
        async with _parked_commands(_settings()) as (commands, _, _):
            return await commands.show(projection, history)

    raise typer.Exit(1 if asyncio.run(show()) else 0)


@parked_cli.command("retry")
def parked_retry(projection: ProjectionOption = None, by: ByOption = None) -> None:
    """Re-applies parked events, each stream in log order.

    With the code and data as they are now (after an upcaster was added or a row fixed).
    Exits 1 if any stay parked."""

    async def run() -> int:
        async with _parked_commands(_settings()) as (commands, store, _):
            return await commands.retry(projection, store, operator(by))

    raise typer.Exit(1 if asyncio.run(run()) else 0)


@parked_cli.command("skip")
def parked_skip(
    position: Annotated[int, typer.Argument(help="The parked event's log position.")],
    projection: ProjectionOption = None,
    by: ByOption = None,
) -> None:
    """Drops a parked event deliberately; a replay or rebuild drops it too.

    Events parked behind it stay parked until `parked retry`. Exits 1 if nothing was
    parked there."""

    async def run() -> int:
        async with _parked_commands(_settings()) as (commands, _, engines):
            return await commands.skip(position, projection, engines.writer, operator(by))

    raise typer.Exit(0 if asyncio.run(run()) else 1)


@cli.command()
def seed(
    posts: Annotated[int, typer.Option(min=0, help="Posts to create.")] = 50,
    users: Annotated[
        int | None, typer.Option(min=1, help="Authors to register [default: posts/5, at least 1].")
    ] = None,
    publish: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of the posts to publish.")
    ] = 0.8,
    random_seed: Annotated[int | None, typer.Option(help="For the same sample every time.")] = None,
) -> None:
    """Fills the blog with sample users, posts and publishes, with a progress bar.

    They are real commands, sent through the command bus.
    Then it waits until the read models show them.
    """
    settings = _settings()
    _quiet_per_command_logs()
    console = Console()
    authors = users or max(1, posts // 5)

    async def fill() -> None:
        async with running(settings) as inkwell:
            seeder = Seeder(inkwell.services.bus, console, random.Random(random_seed))
            seeded = await seeder.run(posts, authors, publish)
            console.print(
                f"seeded {seeded.users} users, {seeded.posts} posts, {seeded.published} "
                f"published; the log is at position {seeded.position}"
            )
            try:
                await inkwell.services.consistency.wait_for(seeded.position, timeout=60)
            except ConsistencyTimeout:
                console.print("[yellow]the read models are still catching up[/]")
            else:
                console.print("the read models show it all")

    asyncio.run(fill())


@cli.command()
def demo() -> None:
    """Narrates the seed's flow (create, query, publish, query) on a throwaway database.

    At every step it shows what the write side and the read side each hold."""

    logging.getLogger("httpx2").setLevel(logging.WARNING)
    _quiet_per_command_logs()

    async def narrate() -> None:
        with tempfile.TemporaryDirectory(prefix="inkwell-demo-") as scratch:
            settings = Settings(
                database_url=f"sqlite:///{scratch}/demo.db",
                redis_url=os.environ.get("REDIS_URL") or None,
                prefix=f"demo-{uuid.uuid4().hex[:8]}",
                host="127.0.0.1",
                port=0,
                data_dir=Path(scratch),
                signing_key=secrets.token_bytes(32),
                consistency_timeout=5.0,
            )
            async with running(settings) as inkwell:
                app = Starlette(routes=routes())
                app.state.services = inkwell.services
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://inkwell"
                ) as client:
                    await Demo(client, inkwell.store, inkwell.redis, inkwell.keys, Console()).run()
                await drop_space(inkwell.redis, settings.prefix)

    asyncio.run(narrate())


@cli.command("schema")
def print_schema() -> None:
    """Prints the served schema's SDL, for codegen tools (schema.graphql holds a copy)."""
    typer.echo(build_schema().as_str())


@cli.command()
def verify() -> None:
    """Proves the read models match the log; exits 1 on any difference.

    Replays the whole event log into scratch spaces and compares them, key by key,
    with the live read models. Run it while writes are quiet."""
    settings = _settings()
    if tools_redis_url(settings) is None:
        raise _no_redis(settings)

    async def check() -> list[str]:
        names = [projection.name for projection in PROJECTIONS]
        async with running(settings) as inkwell:
            head = await inkwell.store.head_position()
            await inkwell.services.consistency.wait_for(head, timeout=300)
            scratch = await verification.replay(
                inkwell.redis, inkwell.store, inkwell.keys, PROJECTIONS
            )
            try:
                return await verification.differences(inkwell.redis, inkwell.keys, scratch, names)
            finally:
                await verification.drop(inkwell.redis, scratch, names)

    found = asyncio.run(check())
    console = Console()
    for line in found:
        console.print(line, markup=False)
    console.print(f"{len(found)} keys differ" if found else "the read models match the log")
    raise typer.Exit(1 if found else 0)


@cli.command()
def rebuild(
    projection: Annotated[
        str | None, typer.Option(help="Only this projection: posts, feeds, users or search.")
    ] = None,
) -> None:
    """Rebuilds the read models from the log without downtime, in the server's Redis.

    Fills new key namespaces from position 0, catches up with the live projectors,
    swaps them in at once and deletes the old ones; queries answer from the old
    read models until the swap. Refuses to run beside another rebuild of the same
    projection."""
    settings = _settings()
    console = Console()
    chosen = [p for p in PROJECTIONS if projection in (None, p.name)]
    if not chosen:
        names = ", ".join(p.name for p in PROJECTIONS)
        console.print(f"[red]no projection {projection!r}; there are: {names}[/]")
        raise typer.Exit(2)
    if tools_redis_url(settings) is None:
        raise _no_redis(settings)
    _quiet_per_command_logs()

    async def run() -> int:
        async with inspecting(settings) as (redis, log_reader):
            assert redis is not None
            return await rebuild_with_progress(
                redis, Keys(settings.prefix), log_reader, chosen, console
            )

    try:
        position = asyncio.run(run())
    except RebuildRunning as running_already:
        console.print(f"[red]{running_already}[/]")
        raise typer.Exit(1) from None
    console.print(f"rebuilt {', '.join(p.name for p in chosen)} up to position {position}")


if __name__ == "__main__":
    cli()
