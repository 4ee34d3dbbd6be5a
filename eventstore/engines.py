"""SQLAlchemy engines for the log: one for the single writer, one pool for readers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from eventstore.driver_sql import DriverStatement
from eventstore.migrate import migrate


@dataclass(frozen=True)
class Engines:
    writer: Engine
    reader: Engine

    @property
    def is_sqlite(self) -> bool:
        return self.writer.dialect.name == "sqlite"

    def dispose(self) -> None:
        self.writer.dispose()
        self.reader.dispose()


# PostgreSQL's undefined_table and invalid_schema_name: DATABASE_URL's database answers,
# but the log is not where it says.
MISSING_SQLSTATES = frozenset({"42P01", "3F000"})


class LogTablesMissing(OperationalError):
    """The database answers, but the log's tables are not there: its schema renamed or
    dropped under the server, its search_path changed. Nothing was read or appended, so it
    is an outage (UNAVAILABLE, which a client retries with the same commandId) and
    /ready names it. Raised as the driver's ProgrammingError it was INTERNAL_SERVER_ERROR
    with a traceback per request (an outside probe: 483 of them in a 6 s rename)."""


def _missing_tables_are_an_outage(context: ExceptionContext) -> BaseException | None:
    """A `handle_error` listener: the driver-level statements (eventstore/driver_sql.py)
    go through SQLAlchemy's handler too, so every read and append is covered."""
    if getattr(context.original_exception, "sqlstate", None) in MISSING_SQLSTATES:
        return LogTablesMissing(context.statement, context.parameters, context.original_exception)
    return None


def open_engines(url: str) -> Engines:
    """Opens both engines and migrates the tables to the newest revision."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engines = Engines(_sqlite(url, "BEGIN IMMEDIATE"), _sqlite(url, "BEGIN"))
    else:
        engines = Engines(
            _postgres_writer(url),
            create_engine(
                url,
                pool_size=8,
                max_overflow=8,
                pool_pre_ping=True,
                connect_args=_connect_args(url),
            ),
        )
    migrate(engines.writer, engines.reader)  # which may look for tables not made yet
    for engine in (engines.writer, engines.reader):
        event.listen(engine, "handle_error", _missing_tables_are_an_outage)
    return engines


def sqlite_refuses_writes(engines: Engines) -> str | None:
    """Why a SQLite log cannot take a write, or None. SQLite opens a file it may not write
    (a read-only disk or directory) and reads it, and BEGIN IMMEDIATE takes its lock in
    the shared-memory index: only a statement that writes finds out. `serve` on a
    read-only data directory started, /ready said ready, and the first mutation was
    UNAVAILABLE (an outside probe). A DELETE of no row begins a write and changes
    nothing; it is rolled back."""
    if not engines.is_sqlite:
        return None
    with engines.writer.connect() as conn:
        try:
            conn.exec_driver_sql("DELETE FROM events WHERE 0")
        except OperationalError as error:
            return str(error.orig)
        finally:
            conn.rollback()
    return None


def holds_a_log(url: str) -> bool:
    """Whether the database at `url` holds an event log already, found without making one
    (opening a SQLite file makes it; open_engines makes the tables)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        return False
    engine = create_engine(url, poolclass=NullPool, connect_args=_connect_args(url))
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table("events")
    finally:
        engine.dispose()


# How long a connection to a database server may take to open, where DATABASE_URL does
# not say (`?connect_timeout=`). libpq waits for ever by default: a server paused
# (SIGSTOP, a frozen VM) takes the connection and never answers it, and `inkwell status`,
# `events tail` and every start hung for the whole pause (34 s in an outside probe).
CONNECT_SECONDS = 5


def _connect_args(url: str) -> dict[str, Any]:
    if make_url(url).get_backend_name() == "sqlite" or "connect_timeout" in make_url(url).query:
        return {}
    return {"connect_timeout": CONNECT_SECONDS}


# How long PostgreSQL lets a writer's transaction sit idle before it ends the session.
IDLE_IN_TRANSACTION_SECONDS = 5


def _postgres_writer(url: str) -> Engine:
    """The writer's engine, its sessions set for what an append needs (_configure_writer)."""
    engine = create_engine(
        url, pool_size=1, max_overflow=0, pool_pre_ping=True, connect_args=_connect_args(url)
    )
    event.listen(engine, "connect", _configure_writer)
    return engine


def _configure_writer(dbapi_connection: Any, _record: Any) -> None:
    """Session settings of a PostgreSQL writer connection, by SQLAlchemy's recipe for them:
    the options a DATABASE_URL may carry (a search_path) are left as they are.

    - A commit is acknowledged once it is durable, as with SQLite's synchronous=FULL: a
      server, database or role tuned to `synchronous_commit = off` would have lost the
      last acknowledged writes in a crash. `off` is raised to `on`; every other setting
      (local, remote_write, on, remote_apply) waits for the local flush, and is kept.
    - The session ends when a transaction sits idle. An append holds the log's advisory
      lock until it commits (eventstore/writer.py), so a process paused inside one
      (SIGSTOP, a frozen VM or container) held every other process's writes: with two
      `api` processes under load and one paused for 20 s, the other acknowledged 2 writes
      in those 20 s, its commit deadline refusing the rest after 15 s each. A writer's
      transaction is a few statements sent back to back; idle for seconds, its client is
      not coming back soon, and its own commit then fails, with an outcome a client
      resolves by sending its commandId again."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        if cursor.fetchone()[0] == "off":
            cursor.execute("SET synchronous_commit = on")
        idle = f"{IDLE_IN_TRANSACTION_SECONDS}s"
        cursor.execute(f"SET idle_in_transaction_session_timeout = '{idle}'")
    dbapi_connection.autocommit = autocommit


def _sqlite(url: str, begin: str) -> Engine:
    """WAL so readers never wait for the writer; synchronous=FULL so an acknowledged
    write survives power loss. pysqlite's own transaction handling is switched off so
    the writer can take the write lock up front with BEGIN IMMEDIATE."""
    database = make_url(url).database
    if database:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # First: switching to WAL takes the database's exclusive lock, and must wait for it
        # as long as any statement would, not pysqlite's default of 5 s.
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    # On the driver's connection (eventstore/driver_sql.py): through exec_driver_sql the
    # BEGIN of a lone command's transaction cost more CPU than its INSERTs.
    beginning = DriverStatement(text(begin), engine.dialect)

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        beginning.run(connection, connection.connection.driver_connection, {})

    return engine
