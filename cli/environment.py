"""What every command starts from: its settings, and the server's Redis and log to read."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import replace
from pathlib import Path

import redis
import typer
from redis.asyncio import Redis
from rich.console import Console
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from domain.ports import EventLog
from eventstore.engines import holds_a_log, open_engines, sqlite_refuses_writes
from eventstore.log_reader import LogReader
from infra import embedded_redis
from infra.embedded_redis import EmbeddedRedisError
from infra.redis_binary import NoRedisServer
from infra.redis_policy import PRODUCTION_REFUSAL, eviction_refusal, maxmemory_policy
from infra.settings import LogSettings, Settings, SettingsError, database_url_in
from infra.unread_settings import Reads, unread
from observability.readiness import NotFedByThePrimary, fed_by_the_primary
from projections.keyspace.keys import Keys
from projections.projectors.log_binding import AnotherLogRuns, BoundToAnotherLog, LogBinding
from wiring.bootstrap import NAMES
from wiring.outages import STORE_OUTAGES
from wiring.redis_clients import embedded

log = logging.getLogger("inkwell")

# How often a Redis that is loading its data is asked again.
LOADING_POLL_SECONDS = 0.25


def settings_or_exit(
    *,
    demo: bool = False,
    new_log: bool = False,
    listens: bool = False,
    port: int | None = None,
    redis: bool = True,
    writes: bool = False,
    names_unread: bool = True,
) -> Settings:
    """The settings of a CLI command, once they are valid, its event log opens and the
    Redis servers it names answer; else the command ends with the reason in one line, exit
    code 2. The log is opened (and migrated, as every start does) here, before uvicorn or
    the event loop: a database or Redis that could not be reached came to `serve`'s
    operator as uvicorn's "Application startup failed" under a traceback, and to
    `status`'s as a traceback of hundreds of lines. (With no REDIS_URL, redis_or_exit
    starts the embedded one.)

    `new_log`: the command may start a deployment, and make its log where there is none
    (serve, api, project, seed). The others work on an existing deployment's log, and
    refuse to make one: `status` run outside the server's directory had made an empty
    log and a signing key there, and reported the empty log as caught up.

    `listens`: the command serves HTTP on HOST and `port` (PORT when None), so both are
    tried before the log is made or anything starts. `redis` off: the command reads the
    log alone (`events`), and works while Redis is down. `writes`: the command appends to
    the log (serve, api, seed), which must take a write (sqlite_refuses_writes).
    `names_unread`: warns of each INKWELL_ variable that no setting reads (a misspelled
    one), off in `serve`'s projector process, whose `serve` has said so."""
    try:
        if not new_log:
            _the_log_exists(database_url_in())
        reads = Reads(os.environ)
        settings = Settings.from_env(reads, demo=demo)
        LogSettings.from_env(reads)  # read before any command runs: its names count as read
        for line in unread(reads) if names_unread else ():
            log.warning(line)
        if listens:
            _can_listen(settings.host, settings.port if port is None else port)
        _open_the_log(settings.database_url, writes)
        if redis:
            _redis_answers("REDIS_URL", settings.redis_url)
            _redis_answers("REDIS_READ_URL", settings.redis_read_url)
        return settings
    except SettingsError as error:
        raise refused(str(error)) from None


def log_settings_or_exit() -> LogSettings:
    """How to log, read before any command runs; a refused one ends it as above."""
    try:
        return LogSettings.from_env()
    except SettingsError as error:
        raise refused(str(error)) from None


def refused(reason: str) -> typer.Exit:
    """Prints why the command cannot run, in red on one line however long (a path in it
    stays whole) and with no markup read in it; the Exit to raise, with code 2."""
    Console(stderr=True, soft_wrap=True).print(reason, style="red", markup=False, highlight=False)
    return typer.Exit(2)


# Error replies of a Redis that serves reads and refuses writes: out of memory under
# noeviction and a replica (after a failover), which redis-py raises as classes of their
# own; a failed snapshot under stop-writes-on-bgsave-error, too few replicas for
# min-replicas-to-write, which it does not.
WRITES_REFUSED = (redis.exceptions.OutOfMemoryError, redis.exceptions.ReadOnlyError)
WRITES_REFUSED_REPLIES = ("MISCONF", "NOREPLICAS")


@contextmanager
def stores_answering(command: str) -> Iterator[None]:
    """Ends `command` with one line and exit code 2 when Redis refuses its writes or a
    store stops answering midway: `verify` and `rebuild` printed 160-180 lines of
    traceback and exited 1, verify's code for read models that differ (an outside
    probe, Redis read-only and out of memory)."""
    try:
        yield
    except redis.ResponseError as error:
        if not isinstance(error, WRITES_REFUSED) and not str(error).startswith(
            WRITES_REFUSED_REPLIES
        ):
            raise
        raise refused(f"{command}: Redis refused a write: {error}") from None
    except STORE_OUTAGES as error:
        raise refused(f"{command}: a store stopped answering: {error}") from None


def _open_the_log(url: str, writes: bool) -> None:
    shown = _shown(url, "DATABASE_URL")
    try:
        engines = open_engines(url)
        try:
            refused_by = sqlite_refuses_writes(engines) if writes else None
        finally:
            engines.dispose()
    except (SQLAlchemyError, ImportError, OSError) as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        # Opening migrates the log's tables (eventstore/migrate.py): a migration that
        # fails is said as such, not as a database that did not open.
        raise SettingsError(
            f"the event log at {shown} cannot be opened or migrated: {reason}"
        ) from None
    if refused_by is not None:
        raise SettingsError(f"the event log at {shown} cannot be written: {refused_by}")


def _the_log_exists(url: str) -> None:
    try:
        exists = holds_a_log(url)
    except (SQLAlchemyError, ImportError, OSError):
        return  # _open_the_log says why it cannot be opened
    if exists:
        return
    shown = _shown(url, "DATABASE_URL")
    if url.startswith("sqlite"):
        raise SettingsError(
            f"there is no event log at {shown} (from {Path.cwd()}): run this command in the "
            "directory the server runs in, or set INKWELL_DATA_DIR or DATABASE_URL as the "
            "server has them"
        )
    raise SettingsError(f"there is no event log at {shown}: set DATABASE_URL as the server has it")


def _can_listen(host: str, port: int) -> None:
    """Returns if this process can listen on HOST and `port` (bound and let go at once).
    HOST=bogus.invalid or 999.1.1.1 failed only when uvicorn bound it, after Redis and
    the projector process had started: "Name or service not known", exit 3. A name is
    resolved as uvicorn's server resolves it; the first address is tried."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise SettingsError(
            f"HOST must be an address or a name of this machine, not {host!r} ({error.strerror})"
        ) from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as error:
            raise SettingsError(
                f"cannot listen on HOST={host} PORT={port}: {error.strerror}"
            ) from None


def _redis_answers(name: str, url: str | None) -> None:
    """Returns once the Redis at `url` answers. One that answers LOADING is reading its
    snapshot or append-only file, for minutes when its data is large: that is waited out,
    and said once. (Refusing it ended `serve` with "does not answer" whenever it started
    beside a Redis that had just restarted; before that check, `serve` waited silently.)"""
    if url is None:
        return
    shown = _shown(url, name)
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    loading = False
    try:
        while True:
            try:
                client.ping()
                return
            except redis.BusyLoadingError:
                if not loading:
                    log.warning("%s %s is loading its data into memory; waiting", name, shown)
                loading = True
                time.sleep(LOADING_POLL_SECONDS)
    except redis.RedisError as error:
        raise SettingsError(f"{name} {shown} does not answer: {error}") from None
    finally:
        client.close()


def _shown(url: str, name: str) -> str:
    """The URL without its password: masked in its user part, left out of its query
    (redis-py and libpq read both); the variable's name when it is not a URL at all."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return name
    return parsed.difference_update_query(["password"]).render_as_string(hide_password=True)


@contextmanager
def redis_or_exit(settings: Settings) -> Iterator[Settings]:
    """`settings` with the Redis the command runs on: REDIS_URL, else the embedded Redis of
    the server already on the data directory, else one started here and stopped on exit;
    its read models bound to this event log (projections/projectors/log_binding.py), or
    the command ends saying whose they are, exit code 2.
    It starts here, before uvicorn or the event loop, for two reasons. An embedded Redis
    that cannot start ends the command with its reason in one line, exit code 2, where
    uvicorn's lifespan printed a traceback. And Ctrl-C interrupts a snapshot that takes
    minutes to load, where uvicorn's signal handlers held it until startup was done."""
    with ExitStack() as stack:
        try:
            url = settings.redis_url or embedded(stack, settings.data_dir)
        except (EmbeddedRedisError, NoRedisServer, OSError) as error:
            reason = str(error)
            if isinstance(error, OSError):  # the data directory, most likely
                reason = f"the embedded Redis cannot start in {settings.data_dir}/: {error}"
            raise refused(reason) from None
        with_redis = replace(settings, redis_url=url)
        # A Redis refusing writes ended `serve` on a new log under a traceback.
        with stores_answering("binding the read models to this event log"):
            asyncio.run(_bound_or_exit(with_redis))
        yield with_redis


async def _bound_or_exit(settings: Settings) -> None:
    async with inspecting(settings) as (redis, log_reader):
        assert redis is not None
        await evicting_redis_refused(redis, settings)
        await bind_or_exit(redis, log_reader, settings)


def read_server_checked(settings: Settings) -> None:
    """Warns, once at start, when REDIS_READ_URL's server does not hold what REDIS_URL's
    holds: it is not a replica of it. /ready fails for it (observability/readiness.py),
    but a process no load balancer asks served every query from read models no projector
    writes, and said nothing."""
    if settings.redis_read_url is None or settings.redis_url is None:
        return
    identity = Keys(settings.prefix).log()
    asyncio.run(_read_server_checked(settings.redis_url, settings.redis_read_url, identity))


async def _read_server_checked(url: str, read_url: str, identity_key: str) -> None:
    primary = Redis.from_url(url, decode_responses=True, socket_timeout=2)
    reads = Redis.from_url(read_url, decode_responses=True, socket_timeout=2)
    try:
        await fed_by_the_primary(reads, primary, identity_key)
    except NotFedByThePrimary as error:
        shown = _shown(read_url, "REDIS_READ_URL")
        log.warning("REDIS_READ_URL %s: %s; /ready fails while it does not", shown, error)
    except redis.RedisError as error:  # both answered a moment ago: the server says more
        log.debug("could not compare REDIS_READ_URL with REDIS_URL: %r", error)
    finally:
        await reads.aclose()
        await primary.aclose()


async def evicting_redis_refused(redis: Redis, settings: Settings) -> None:
    """In production, ends the command (exit code 2) when Redis may evict read-model keys,
    before anything is written there. Refused by the server's own check, in uvicorn's
    lifespan, `serve` and `api` ended in a traceback (exit 3), `project` in 113 lines of
    one, `verify` in 109 (exit 1, its code for differences); `rebuild` built into that
    Redis and said nothing (outside probes)."""
    if settings.production:
        refusal = eviction_refusal(await maxmemory_policy(redis))
        if refusal is not None:
            raise refused(refusal + PRODUCTION_REFUSAL)


async def read_models_or_exit(redis: Redis, prefix: str, without: str) -> None:
    """Ends the command (exit code 2) when no projection has an active space under the
    prefix, saying what it cannot do then (`without`). A mistyped INKWELL_PREFIX had
    verify's own projectors build read models there and report that they matched the
    log, and `parked list` report that nothing was parked (an outside probe)."""
    if not await _holds_read_models(redis, Keys(prefix)):
        raise refused(
            f"there are no read models under prefix {prefix!r} in that Redis: {without} (is "
            "INKWELL_PREFIX the server's? a server or `inkwell project` builds them when it "
            "starts)"
        )


async def mistyped_prefix_refused(redis: Redis, prefix: str, identity: str) -> None:
    """Ends the command (exit code 2) when there are no read models under the prefix but
    this log's are under another one: a mistyped INKWELL_PREFIX. `rebuild` built a whole
    new set of read models there, said \"rebuilt\", and left the servers' as they were (an
    outside probe). With none anywhere (a Redis that lost them all) it goes on: building
    them is what the operator asks for."""
    keys = Keys(prefix)
    if await _holds_read_models(redis, keys):
        return
    elsewhere = [
        str(key).removesuffix(":log")
        async for key in redis.scan_iter(match="*:log", count=1000, _type="string")
        if str(key) != keys.log() and await redis.get(key) == identity
    ]
    if elsewhere:
        raise refused(
            f"there are no read models under prefix {prefix!r} in that Redis; this event "
            f"log's are under {', '.join(map(repr, sorted(elsewhere)))}: is INKWELL_PREFIX "
            "the server's?"
        )


async def _holds_read_models(redis: Redis, keys: Keys) -> bool:
    """Whether any projection has an active space under the keys' prefix."""
    return bool(await redis.exists(*(keys.namespace(name) for name in NAMES)))


async def bind_or_exit(
    redis: Redis, event_log: EventLog, settings: Settings, *, take_over: bool = True
) -> None:
    """Binds the read models under the prefix to this log, or ends the command (exit code
    2) saying which log they belong to (projections/projectors/log_binding.py)."""
    binding = LogBinding(redis, Keys(settings.prefix), NAMES, await event_log.identity())
    try:
        await binding.bind(take_over=take_over)
    except (AnotherLogRuns, BoundToAnotherLog) as error:
        raise refused(str(error)) from None


def _tools_redis_url(settings: Settings) -> str | None:
    """Where operator commands find the read models: REDIS_URL, else the embedded Redis of
    the server running on INKWELL_DATA_DIR; None when neither is there."""
    return settings.redis_url or embedded_redis.running_in(settings.data_dir)


def _no_redis(settings: Settings) -> typer.Exit:
    """Exit code 2, saying why. An embedded Redis that takes connections and does not
    answer (stopped, overloaded) is not a server that is not running: the tools said to
    start one, beside the one running (an outside probe froze the embedded Redis). Nor is
    a server given REDIS_URL, which keeps no Redis in its data directory: the tools said
    no server ran there (an outside probe ran them without its REDIS_URL)."""
    socket = embedded_redis.socket_path(settings.data_dir)
    if embedded_redis.nothing_listens(settings.data_dir):
        why = (
            f"REDIS_URL is unset and no Inkwell server with its own Redis runs on "
            f"{settings.data_dir}/ (nothing answers on {socket}). A server given REDIS_URL "
            "keeps none there: set the same REDIS_URL here. Else start the server (`inkwell "
            "serve`) from this directory, or set INKWELL_DATA_DIR to its data directory."
        )
    else:
        why = (
            f"the embedded Redis of the server on {settings.data_dir}/ takes connections on "
            f"{socket} and does not answer within 2 s: its redis-server process is stopped "
            "or overloaded (the server's /ready names `redis` meanwhile). Look at that "
            "process; a server started here would not replace it while it holds the socket."
        )
    # One line however long, as every start-up refusal: it was wrapped at 80 columns
    # when stderr was not a terminal, and log pipelines split it (an outside probe).
    return refused(f"no Redis to read: {why}")


def require_redis(settings: Settings) -> str:
    """The server's Redis URL, once it answers; or the command ends with exit code 2 saying
    why there is none. (REDIS_URL was waited for by settings_or_exit.)"""
    url = _tools_redis_url(settings)
    if url is None:
        raise _no_redis(settings)
    if settings.redis_url is None:
        try:
            _redis_answers("the embedded Redis", url)
        except SettingsError as error:
            raise refused(str(error)) from None
    return url


@asynccontextmanager
async def inspecting(settings: Settings) -> AsyncIterator[tuple[Redis | None, LogReader]]:
    """What operator commands read through: no writer, no projectors, and the server's
    Redis (REDIS_URL, or the embedded one of the server on the data directory)."""
    engines = open_engines(settings.database_url)
    url = _tools_redis_url(settings)
    redis = Redis.from_url(url, decode_responses=True) if url else None
    try:
        yield redis, LogReader(engines.reader)
    finally:
        if redis is not None:
            await redis.aclose()
        engines.dispose()


def quiet_per_command_logs() -> None:
    """Commands that print their own account would drown in a line per command and batch."""
    for name in ("inkwell.commands", "inkwell.requests", "projections.projectors.runner"):
        logging.getLogger(name).setLevel(logging.WARNING)
