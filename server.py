"""Inkwell's composition root: settings, wiring of every adapter, the ASGI app and the CLI.

Only this module knows every concrete class. Nothing connects at import time:
`running()` opens the stores and starts the background tasks, and closes them in
reverse order.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import typer
import uvicorn
from redis.asyncio import Redis
from rich.console import Console
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route, WebSocketRoute

from auth.tokens import BearerTokens, load_or_create_key
from cli.demo import Demo
from domain.bus import CommandBus
from domain.handlers import HANDLERS
from eventstore.engines import Engines, open_engines
from eventstore.store import SqlEventStore
from eventstore.writer import GroupCommitWriter
from infra.embedded_redis import EmbeddedRedis
from projections import feeds, posts, users
from projections.broadcast import Broadcast
from projections.consistency import ConsistencyWaiter
from projections.keys import Keys
from projections.projection import Projection
from projections.publisher import EventPublisher
from projections.readers import ReadModels
from projections.runner import ProjectionRunner
from projections.scripts import Scripts
from schema import build_schema
from schema.context import Services
from schema.view import InkwellGraphQL
from web import routes as web
from web.playground import playground_html

log = logging.getLogger("inkwell")

PROJECTIONS: tuple[Projection, ...] = (posts.PROJECTION, feeds.PROJECTION, users.PROJECTION)


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    prefix: str
    host: str
    port: int
    data_dir: Path
    signing_key: bytes
    consistency_timeout: float

    @staticmethod
    def from_env(env: Mapping[str, str] = os.environ) -> Settings:
        """Reads the environment once; a variable set to the empty string counts as unset."""

        def get(name: str, default: str) -> str:
            return env.get(name) or default

        data_dir = Path(get("INKWELL_DATA_DIR", "data"))
        secret = env.get("INKWELL_SECRET")
        return Settings(
            database_url=get("DATABASE_URL", f"sqlite:///{data_dir / 'inkwell.db'}"),
            redis_url=env.get("REDIS_URL") or None,
            prefix=get("INKWELL_PREFIX", "inkwell"),
            host=get("HOST", "127.0.0.1"),
            port=int(get("PORT", "8000")),
            data_dir=data_dir,
            signing_key=secret.encode() if secret else load_or_create_key(data_dir / "secret.key"),
            consistency_timeout=float(get("INKWELL_CONSISTENCY_TIMEOUT", "5")),
        )


@dataclass(frozen=True)
class Inkwell:
    """A running Inkwell: what the app, the CLI and the tests reach into."""

    settings: Settings
    services: Services
    store: SqlEventStore
    engines: Engines
    redis: Redis
    keys: Keys
    runners: tuple[ProjectionRunner, ...]


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


@asynccontextmanager
async def running(
    settings: Settings, *, projectors: bool = True, embedded_redis_dir: Path | None = None
) -> AsyncIterator[Inkwell]:
    """Opens the stores and starts the background work; `projectors=False` is an API-only
    process whose read models are kept by `python server.py project` elsewhere."""
    async with AsyncExitStack() as stack:
        redis_url = settings.redis_url or stack.enter_context(
            EmbeddedRedis(embedded_redis_dir or settings.data_dir)
        )
        redis = Redis.from_url(redis_url, decode_responses=True)
        stack.push_async_callback(redis.aclose)
        # Pub/sub blocks between messages: no read timeout on its connection.
        listener = Redis.from_url(
            redis_url,
            decode_responses=True,
            socket_timeout=None,
            client_name=f"{settings.prefix}:pubsub",
        )
        stack.push_async_callback(listener.aclose)

        keys = Keys(settings.prefix)
        names = [projection.name for projection in PROJECTIONS]
        publisher = EventPublisher(redis, keys)
        engines = open_engines(settings.database_url)
        stack.callback(engines.dispose)
        writer = GroupCommitWriter(engines, publisher.committed)
        writer.start()
        stack.callback(writer.stop)
        store = SqlEventStore(engines, writer)

        broadcast = Broadcast(listener, always=[keys.checkpoints_channel()])
        waiter = ConsistencyWaiter(redis, keys, broadcast, names)
        scripts = Scripts.register(redis)
        runners = tuple(
            ProjectionRunner(projection, redis, keys, scripts, store, broadcast)
            for projection in (PROJECTIONS if projectors else ())
        )
        services = Services(
            bus=CommandBus(store, HANDLERS, now, new_id),
            reads=ReadModels(redis, keys, names),
            consistency=waiter,
            tokens=BearerTokens(settings.signing_key),
            consistency_timeout=settings.consistency_timeout,
        )
        tasks = await stack.enter_async_context(_background())
        tasks(broadcast.run(), "broadcast")
        tasks(publisher.run(), "publisher")
        tasks(waiter.run(), "consistency")
        for runner in runners:
            tasks(runner.run(), f"projection {runner.projection.name}")
        yield Inkwell(settings, services, store, engines, redis, keys, runners)


Spawn = Callable[[Coroutine[Any, Any, None], str], None]


@asynccontextmanager
async def _background() -> AsyncIterator[Spawn]:
    """Long-running tasks, cancelled on exit; one that dies is logged, never silently lost."""
    tasks: list[asyncio.Task[None]] = []

    def spawn(work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        task.add_done_callback(_report)
        tasks.append(task)

    try:
        yield spawn
    finally:
        await _cancel_all(tasks)


async def _cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    """Cancels until every task is done. A cancellation can be swallowed by the code it
    lands in (redis-py 8.1 blocking reads per FIELD-NOTES; Python 3.11's asyncio.timeout
    when its deadline coincides), so one cancel() is not always enough."""
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.2)


def _report(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task %s died", task.get_name(), exc_info=task.exception())


def routes() -> list[BaseRoute]:
    schema = build_schema()
    playground = playground_html(subscriptions=schema.subscription is not None)
    graphql = InkwellGraphQL(schema, playground=playground)
    return [Route("/graphql", graphql), WebSocketRoute("/graphql", graphql), *web.routes()]


def create_app(settings: Settings | None = None, *, projectors: bool = True) -> Starlette:
    """The ASGI app; its lifespan runs Inkwell (`uvicorn --factory server:create_app`)."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with running(settings, projectors=projectors) as inkwell:
            app.state.inkwell = inkwell
            app.state.services = inkwell.services
            yield

    return Starlette(routes=routes(), lifespan=lifespan)


cli = typer.Typer(help="Inkwell: a CQRS blog backend.", no_args_is_help=False, add_completion=False)


@cli.callback(invoke_without_command=True)
def main(ctx: typer.Context) -> None:
    """With no command, serves the API and runs the projectors (like `serve`)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if ctx.invoked_subcommand is None:
        serve()


@cli.command()
def serve() -> None:
    """Serves GraphQL on HOST:PORT and runs every projection in the same process."""
    settings = Settings.from_env()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


@cli.command()
def api() -> None:
    """Serves GraphQL only; projections run elsewhere (`project`). Needs REDIS_URL."""
    settings = Settings.from_env()
    uvicorn.run(
        create_app(settings, projectors=False), host=settings.host, port=settings.port
    )


@cli.command()
def project() -> None:
    """Runs the projections only, keeping the read models current until interrupted."""

    async def follow() -> None:
        async with running(Settings.from_env()):
            await asyncio.Event().wait()

    asyncio.run(follow())


@cli.command()
def demo() -> None:
    """Narrates the seed's flow (create, query, publish, query) on a throwaway database,
    showing what the write side and the read side each hold at every step."""

    logging.getLogger("httpx2").setLevel(logging.WARNING)

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
                async with httpx.AsyncClient(transport=transport, base_url="http://inkwell") as client:
                    await Demo(client, inkwell.store, inkwell.redis, inkwell.keys, Console()).run()
                async for key in inkwell.redis.scan_iter(match=f"{settings.prefix}:*"):
                    await inkwell.redis.delete(key)

    asyncio.run(narrate())


if __name__ == "__main__":
    cli()
