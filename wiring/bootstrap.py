"""Builds a running Inkwell from its settings, as cosmicpython's bootstrap.py does.

`running()` reads in the order things start: Redis, the event store, the read side
(pub/sub fan-out, read-your-writes, the projectors), the operator endpoints' sources,
the services GraphQL calls, then the background tasks. One AsyncExitStack closes
them in reverse order. Each step is a small function below it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import multiprocess
from redis.asyncio import Redis

from auth.tokens import BearerTokens
from domain import ids
from domain.bus import CommandBus
from domain.handlers import HANDLERS
from domain.ports import RecordedEvent
from domain.upcasting import SCHEMAS, EventSchemas
from eventstore.engines import Engines, open_engines
from eventstore.log_reader import LogReader
from eventstore.store import SqlEventStore
from eventstore.writer import GroupCommitWriter
from infra.settings import Settings
from observability.command_log import CommandLog
from observability.endpoints import Operations
from observability.exposition import Exposition
from observability.faults import count_database_errors
from observability.metrics import Metrics
from observability.progress import ProgressReader
from observability.readiness import Limits, Readiness
from projections.keyspace.keys import Keys
from projections.live.broadcast import Broadcast
from projections.live.consistency import ConsistencyWaiter
from projections.live.namespaces import ActiveNamespaces
from projections.live.read_models import LiveReadModels
from projections.projectors import demo_delay, feeds, posts, recent_events, search, users
from projections.projectors.joint import JointBatches
from projections.projectors.log_binding import LogBinding, Presence
from projections.projectors.projection import Projection
from projections.projectors.publisher import EventPublisher
from projections.projectors.runner import ProjectionRunner
from projections.projectors.scripts import Scripts
from projections.readers.persisted_queries import Bounds, PersistedQueryStore
from projections.readers.read_models import ReadModels
from projections.readers.statuses import LogHead, LogHeadWithin
from protection.throttle import Throttle
from schema.context import Services
from schema.persisted import AutomaticPersistedQueries, Documents
from wiring.background import background
from wiring.outages import STORE_OUTAGES
from wiring.redis_clients import RedisClients, embedded, open_clients

PROJECTIONS: tuple[Projection, ...] = (
    posts.PROJECTION,
    feeds.PROJECTION,
    users.PROJECTION,
    search.PROJECTION,
    recent_events.PROJECTION,
)
NAMES = tuple(projection.name for projection in PROJECTIONS)
# How many projector leases a process's presence outlasts it by, should it die without
# leaving (projections/projectors/log_binding.py, Presence): renewed nine times a term.
PRESENCE_LEASES = 3


@dataclass(frozen=True)
class Inkwell:
    """A running Inkwell: what the app, the CLI and the tests reach into."""

    settings: Settings
    services: Services
    store: SqlEventStore
    engines: Engines
    redis: Redis
    redis_url: str  # the primary's, the embedded one included
    keys: Keys
    runners: tuple[ProjectionRunner, ...]
    operations: Operations
    log: LogReader


@dataclass(frozen=True)
class ReadSide:
    """What every process learns from Redis pub/sub: changes, checkpoints, space swaps."""

    broadcast: Broadcast
    namespaces: ActiveNamespaces
    consistency: ConsistencyWaiter
    log_head: LogHead  # the event log's head, for what Redis lost of it


@asynccontextmanager
async def running(
    settings: Settings,
    *,
    projectors: bool = True,
    embedded_redis_dir: Path | None = None,
    schemas: EventSchemas = SCHEMAS,
    take_over: bool = True,
) -> AsyncIterator[Inkwell]:
    """Opens the stores and starts the background work; `projectors=False` is an API-only
    process whose read models are kept by `inkwell project` elsewhere. `schemas` are the
    event versions and upcasters every read of the log goes through.

    Raises AnotherLogRuns when Redis's read models under the prefix belong to another
    event log whose processes run; with `take_over` off, BoundToAnotherLog when they
    belong to another log at all (projections/projectors/log_binding.py)."""
    async with AsyncExitStack() as stack:
        redis_url = settings.redis_url or embedded(stack, embedded_redis_dir or settings.data_dir)
        metrics = _metrics(stack, settings)
        redis = await open_clients(stack, redis_url, settings, metrics)
        keys = Keys(settings.prefix)
        publisher = EventPublisher(redis.primary, keys)
        engines, store = _event_store(stack, settings, metrics, publisher, schemas)
        log_reader = LogReader(engines.reader, schemas)
        identity = await log_reader.identity()
        await LogBinding(redis.primary, keys, NAMES, identity).bind(take_over=take_over)
        # Counted among the log's processes from now on: another log's is refused.
        presence = Presence(redis.primary, keys, identity, PRESENCE_LEASES * settings.lease_seconds)
        await presence.enter()
        stack.push_async_callback(presence.leave)
        read_side = await _read_side(redis, keys, metrics, log_reader)
        runners = (
            _projectors(settings, redis.primary, keys, store, read_side.broadcast)
            if projectors
            else ()
        )
        operations = _operations(settings, metrics, redis, keys, log_reader, store)
        services = _services(settings, metrics, redis, keys, store, read_side)
        if settings.rate_limits.enabled:
            services = _throttled(settings, redis, keys, services)
        spawn = await stack.enter_async_context(background())
        spawn(read_side.broadcast.run(), "broadcast")
        spawn(publisher.run(), "publisher")
        spawn(read_side.consistency.run(), "consistency")
        spawn(read_side.namespaces.run(), "namespaces")
        spawn(presence.run(), "presence")
        for runner in runners:
            spawn(runner.run(), f"projection {runner.projection.name}")
        yield Inkwell(
            settings,
            services,
            store,
            engines,
            redis.primary,
            redis.url,
            keys,
            runners,
            operations,
            log_reader,
        )


def _metrics(stack: AsyncExitStack, settings: Settings) -> Metrics:
    if settings.metrics_dir is not None:
        # Live gauges (connections, subscriptions) of an exited process must not linger.
        stack.callback(multiprocess.mark_process_dead, os.getpid(), str(settings.metrics_dir))
    return Metrics()


def _event_store(
    stack: AsyncExitStack,
    settings: Settings,
    metrics: Metrics,
    publisher: EventPublisher,
    schemas: EventSchemas,
) -> tuple[Engines, SqlEventStore]:
    """The SQL log and its group-commit writer; each commit is published, then counted."""
    engines = open_engines(settings.database_url)
    stack.callback(engines.dispose)
    for engine in (engines.writer, engines.reader):
        count_database_errors(engine, metrics.database_error)

    def committed(events: list[RecordedEvent]) -> None:
        # Published first: counting writes prometheus-client's files in multiprocess mode,
        # and a full disk failing it must not keep the events from the projectors, who
        # would learn of them only at their next idle catch-up.
        publisher.committed(events)
        metrics.committed(events)

    writer = GroupCommitWriter(engines, committed, schemas, on_transaction=metrics.log_transaction)
    writer.start()
    stack.callback(writer.stop)
    return engines, SqlEventStore(engines, writer, schemas)


async def _read_side(
    redis: RedisClients, keys: Keys, metrics: Metrics, log_reader: LogReader
) -> ReadSide:
    """Read-your-writes checks a position past every checkpoint against the head of the
    log itself, where every API process commits (projections/live/consistency.py)."""
    broadcast = Broadcast(
        redis.listener,
        always=[keys.checkpoints_channel()],
        on_disconnect=lambda _: metrics.pubsub_disconnects.inc(),
    )
    namespaces = ActiveNamespaces(redis.reads, keys, broadcast, NAMES)
    await namespaces.refresh()
    consistency = ConsistencyWaiter(
        redis.reads, keys, broadcast, NAMES, log_reader.head_position, STORE_OUTAGES
    )
    return ReadSide(broadcast, namespaces, consistency, LogHeadWithin(log_reader.head_position))


def _projectors(
    settings: Settings, redis: Redis, keys: Keys, store: SqlEventStore, broadcast: Broadcast
) -> tuple[ProjectionRunner, ...]:
    """One runner per projection, their batches sent together (JointBatches); demo mode
    slows all but the live page's event list."""
    make_runner = demo_delay.runner_factory(
        settings.demo_projection_delay, unhurried={recent_events.NAME}
    )
    scripts = Scripts.register(redis)
    joint = JointBatches(redis)
    return tuple(
        make_runner(
            projection, redis, keys, scripts, store, broadcast, settings.lease_seconds, joint
        )
        for projection in PROJECTIONS
    )


def _operations(
    settings: Settings,
    metrics: Metrics,
    redis: RedisClients,
    keys: Keys,
    log_reader: LogReader,
    store: SqlEventStore,
) -> Operations:
    """What /metrics, /ready and the `projections` subscription read."""
    progress = ProgressReader(redis.primary, keys, NAMES, log_reader)
    limits = Limits(settings.ready_max_lag, settings.ready_stalled_after)
    reads = redis.reads if settings.redis_read_url else None
    return Operations(
        metrics=metrics,
        exposition=Exposition(metrics, settings.metrics_dir),
        progress=progress,
        # The requests' pool: it gives up on a refused Redis after three quick tries and
        # says so; the primary's retries ran out the check's 2 s and said "no answer".
        readiness=Readiness(redis.requests, log_reader, keys, progress, limits, reads, store),
    )


def _services(
    settings: Settings,
    metrics: Metrics,
    redis: RedisClients,
    keys: Keys,
    store: SqlEventStore,
    read_side: ReadSide,
) -> Services:
    """What GraphQL resolvers reach: the command bus for writes, Redis readers for reads."""
    return Services(
        bus=CommandBus(store, HANDLERS, now, new_id, observers=(metrics, CommandLog())),
        reads=ReadModels(redis.reads, keys, NAMES, redis.batched_reads, read_side.log_head),
        live=LiveReadModels(
            redis.reads,
            keys,
            read_side.broadcast,
            NAMES,
            on_resync=lambda outcome: metrics.live_resyncs.labels(outcome).inc(),
            give_up_seconds=settings.live_give_up_seconds,
            log_head=read_side.log_head,
        ),
        consistency=read_side.consistency,
        tokens=BearerTokens(
            settings.signing_key,
            settings.older_signing_keys,
            lifetime=settings.token_lifetime,
        ),
        consistency_timeout=settings.consistency_timeout,
        documents=_documents(settings, redis.requests, keys),
        subscription=metrics.subscription,
    )


def _throttled(settings: Settings, redis: RedisClients, keys: Keys, services: Services) -> Services:
    """The services with rate limits, counted in Redis on the requests' pool."""
    throttle = Throttle(redis.requests.connection_pool, keys.rate_limits(), settings.rate_limits)
    return dataclasses.replace(services, throttle=throttle)


def _documents(settings: Settings, redis: Redis, keys: Keys) -> Documents:
    """Persisted queries: the trusted list when one is configured, else Apollo's APQ."""
    if settings.trusted_documents is not None:
        return settings.trusted_documents
    return AutomaticPersistedQueries(PersistedQueryStore(redis, keys, Bounds()))


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(ids.uuid4())
