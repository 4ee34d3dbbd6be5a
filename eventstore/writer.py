"""The single writer: one thread that commits the appends of many concurrent commands together.

Committing costs a disk flush; deciding costs microseconds. So appends queue up
while a commit is in flight, and the next transaction takes all of them (group
commit). Each append runs in its own savepoint, so one conflict refuses only its
own command. The commit is also the point of order: on PostgreSQL a transaction
lock serializes writers, so global positions become visible in increasing order
and a projector reading the log never steps over a position committed later.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Dialect, bindparam, func, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from domain.errors import ConcurrencyError
from domain.ports import (
    AppendRequest,
    CommandRecord,
    DuplicateCommand,
    Idempotency,
    Outcome,
    RecordedEvent,
)
from domain.upcasting import SCHEMAS, EventSchemas
from eventstore.codec import event_rows, recorded_events
from eventstore.driver_sql import DriverStatement
from eventstore.engines import Engines
from eventstore.log_files import LogFiles, LogFilesReplaced
from eventstore.tables import commands, events

log = logging.getLogger(__name__)

MAX_BATCH = 512
# How long a command waits for its commit before it answers that it could not be
# confirmed. Longer than SQLite's busy timeout (eventstore/engines.py), so a locked file
# answers with its own error first. Without it, a PostgreSQL that stopped answering
# (its backends paused, a failover) held every write until it came back.
COMMIT_SECONDS = 15.0
# Any constant works: it only has to be the same for every Inkwell writer of the database.
POSTGRES_APPEND_LOCK = 0x1A7E_3E11
# PostgreSQL's read_only_sql_transaction: what a hot standby answers a write, and any
# server whose default_transaction_read_only is on. The driver raises it as DB-API's
# InternalError, the class for errors in the database's own state, so it needs naming.
READ_ONLY_SQLSTATE = "25006"

OnCommit = Callable[[list[RecordedEvent]], None]
# Told of every transaction, committed or not: its appends, its seconds (from taking the
# connection to the log files' check after COMMIT, any wait for a lock included) and
# whether it committed. What group commit is judged by: how long a commit takes the
# disk, and how many commands share each one.
OnTransaction = Callable[[int, float, bool], None]

# Built once: building them on every append cost about as much as executing them.
STREAM_VERSION = select(func.max(events.c.version)).where(
    events.c.stream_id == bindparam("stream_id")
)
INSERT_EVENT = insert(events).returning(events.c.position)
INSERT_COMMAND = insert(commands)
EVENT_COLUMNS = ("stream_id", "version", "type", "schema_version", "data", "meta", "recorded_at")
COMMAND_COLUMNS = (
    "scope",
    "command_id",
    "command_type",
    "fingerprint",
    "position",
    "ids",
    "recorded_at",
)


class _Statements:
    """The append's statements, on the driver's cursor (eventstore/driver_sql.py)."""

    def __init__(self, dialect: Dialect) -> None:
        self.version = DriverStatement(STREAM_VERSION, dialect)
        self.event = DriverStatement(INSERT_EVENT, dialect, EVENT_COLUMNS)
        self.command = DriverStatement(INSERT_COMMAND, dialect, COMMAND_COLUMNS)
        # One append's own savepoint: SQLAlchemy's begin_nested() emits the same SQL with
        # its bookkeeping around it, which yappi put at a fifth of the writer's CPU.
        self.savepoint = DriverStatement(text("SAVEPOINT inkwell_append"), dialect)
        self.rollback_to = DriverStatement(text("ROLLBACK TO SAVEPOINT inkwell_append"), dialect)
        self.release = DriverStatement(text("RELEASE SAVEPOINT inkwell_append"), dialect)


class CommitUnconfirmed(Exception):
    """The append was not confirmed within COMMIT_SECONDS: the database did not answer.
    If it was still queued it is never committed; if its commit was under way, it may
    be. Sent again with the same command id, it is applied at most once."""


class LogReadOnly(Exception):
    """The database took the connection but refused the write: a PostgreSQL standby (a
    failover that left DATABASE_URL on the old primary, now demoted) or a database set
    read-only. Nothing was appended; the same write succeeds once the database accepts
    writes again, so the API answers it as an outage (UNAVAILABLE), not as a bug."""


@dataclass
class _Pending:
    request: AppendRequest
    future: asyncio.Future[Outcome]
    loop: asyncio.AbstractEventLoop
    # Set on the event loop when the caller stops waiting; the writer thread then
    # leaves the append out if it has not taken it into a commit yet.
    abandoned: bool = False


class _Stop:
    pass


class GroupCommitWriter:
    def __init__(
        self,
        engines: Engines,
        on_commit: OnCommit,
        schemas: EventSchemas = SCHEMAS,
        commit_seconds: float = COMMIT_SECONDS,
        on_transaction: OnTransaction | None = None,
    ) -> None:
        self._engine = engines.writer
        self._commit_seconds = commit_seconds
        self._schemas = schemas
        self._lock_statement = (
            None
            if engines.is_sqlite
            else text(f"SELECT pg_advisory_xact_lock({POSTGRES_APPEND_LOCK})")
        )
        self._hold_connection = engines.is_sqlite
        self._files = _log_files(engines)
        # Set for good once the log's files were deleted or replaced under the writer.
        self._broken: str | None = None
        self._on_commit = on_commit
        self._on_transaction = on_transaction
        self._statements = _Statements(engines.writer.dialect)
        self._queue: queue.SimpleQueue[_Pending | _Stop] = queue.SimpleQueue()
        # Why the latest commit failed and when (monotonic), until one succeeds: what
        # /ready says of a SQLite file on a full disk or locked by another process, which
        # no read reveals.
        self._last_failure: tuple[str, float] | None = None
        # When the commit under way began (monotonic): a commit that waits on a lock
        # another process holds fails only at the busy timeout, and until then every
        # mutation waits while every read answers.
        self._committing_since: float | None = None
        self._thread = threading.Thread(target=self._run, name="inkwell-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Finishes what is queued, then ends the thread."""
        self._queue.put(_Stop())
        self._thread.join()

    def recent_failure(self, within: float) -> str | None:
        """Why the latest commit failed, if it did less than `within` seconds ago. Older,
        it says nothing of now: with no write since, the database may well accept the
        next (a read-only PostgreSQL set writable again, a lock released), and a
        process that wrote nothing since would report the incident on and on."""
        if self._broken is not None:
            return self._broken  # for as long as the process runs
        failure = self._last_failure
        if failure is None or time.monotonic() - failure[1] >= within:
            return None
        reason, at = failure
        return f"{reason}, {time.monotonic() - at:.0f} s ago"

    def waiting_commit(self, longer_than: float) -> float | None:
        """Seconds the commit under way has taken, if more than `longer_than`."""
        since = self._committing_since
        if since is None:
            return None
        waited = time.monotonic() - since
        return waited if waited > longer_than else None

    async def append(self, request: AppendRequest) -> Outcome:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        pending = _Pending(request, future, loop)
        self._queue.put(pending)
        # A timer, not asyncio.wait_for: this is every command's path, and wait_for
        # wraps the future in a task.
        deadline = loop.call_later(self._commit_seconds, _give_up, pending)
        try:
            return await future
        finally:
            deadline.cancel()

    def _run(self) -> None:
        # On SQLite the thread keeps one connection from batch to batch: checking one out
        # of the pool per commit (and the pool's reset when it goes back) cost more than
        # the append of a lone command. A server can drop a connection while it idles, so
        # on PostgreSQL each batch checks one out, and the pool's pre-ping finds a dead
        # one before any command is refused for it. After a failed commit the connection
        # is given back and a new one taken for the next batch.
        held: Connection | None = None
        try:
            while True:
                first = self._queue.get()
                if isinstance(first, _Stop):
                    return
                batch = [] if first.abandoned else [first]
                stop = False
                while len(batch) < MAX_BATCH:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(item, _Stop):
                        stop = True
                        break
                    if not item.abandoned:
                        batch.append(item)
                if batch:
                    self._committing_since = time.monotonic()
                    try:
                        held = self._commit(held, batch)
                    finally:
                        self._committing_since = None
                if stop:
                    return
        finally:
            if held is not None:
                held.close()
            if self._files is not None:
                self._files.forget()

    def _commit(self, held: Connection | None, batch: list[_Pending]) -> Connection | None:
        """Commits the batch's appends together; returns the connection to keep, if any."""
        started = time.perf_counter()
        results: list[Outcome | Exception] = []
        recorded: list[RecordedEvent] = []
        conn = held
        try:
            if self._broken is not None:
                raise LogFilesReplaced(self._broken)
            conn = conn if conn is not None else self._engine.connect()
            with conn.begin():
                if self._lock_statement is not None:
                    conn.execute(self._lock_statement)
                now = datetime.now(UTC)
                append = _Append(conn, self._statements, now, self._schemas)
                for pending in batch:
                    try:
                        outcome, new_events = append.alone(pending.request)
                    except (ConcurrencyError, DuplicateCommand) as refused:
                        results.append(refused)
                    else:
                        results.append(outcome)
                        recorded.extend(new_events)
            self._check_files()
        except Exception as error:
            failure = _read_only(error) or error
            if isinstance(
                failure, (OperationalError, InterfaceError, LogReadOnly, LogFilesReplaced)
            ):
                # The database unreachable, read-only or the file locked: one line per
                # commit while it lasts, not a traceback each (the API answers UNAVAILABLE).
                log.warning("commit of %d appends failed: %s", len(batch), _reason(failure))
            else:
                log.exception("commit of %d appends failed", len(batch))
            results = [failure] * len(batch)
            recorded = []
            self._last_failure = (_reason(failure), time.monotonic())
            committed = False
            _close(conn)
            conn = None
            if self._files is not None:
                self._files.forget()
        else:
            self._last_failure = None
            committed = True
        if self._on_transaction is not None:
            _tell(self._on_transaction, len(batch), time.perf_counter() - started, committed)
        if recorded:
            _tell(self._on_commit, recorded)
        for pending, result in zip(batch, results, strict=True):
            pending.loop.call_soon_threadsafe(_settle, pending.future, result)
        if self._hold_connection:
            return conn
        _close(conn)
        return None

    def _check_files(self) -> None:
        """After a commit: raises LogFilesReplaced, for good, if the SQLite log's files are
        no longer those the connection has open, as it left them (eventstore/log_files.py)."""
        if self._files is None:
            return
        if not self._files.known:
            self._files.opened()
            return
        replaced = self._files.changed()
        if replaced is not None:
            log.error(
                "the event log's files changed under the writer; no more commits: %s", replaced
            )
            self._broken = replaced
            raise LogFilesReplaced(replaced)


def _log_files(engines: Engines) -> LogFiles | None:
    """The files of a SQLite log on disk, to watch (none in memory or on PostgreSQL)."""
    database = engines.writer.url.database
    if not engines.is_sqlite or not database or database == ":memory:":
        return None
    return LogFiles(Path(database))


class _Append:
    def __init__(
        self, conn: Connection, statements: _Statements, now: datetime, schemas: EventSchemas
    ) -> None:
        self._conn = conn
        self._sql = statements
        self._schemas = schemas
        self._cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        self._now = now

    def alone(self, request: AppendRequest) -> tuple[Outcome, list[RecordedEvent]]:
        """The append in a savepoint of its own: a refused one is undone without the
        others of the transaction. Any other error fails the whole transaction."""
        self._run(self._sql.savepoint, {})
        try:
            done = self(request)
        except (ConcurrencyError, DuplicateCommand):
            self._run(self._sql.rollback_to, {})
            self._run(self._sql.release, {})
            raise
        self._run(self._sql.release, {})
        return done

    def __call__(self, request: AppendRequest) -> tuple[Outcome, list[RecordedEvent]]:
        for stream_id, expected in (
            (request.stream_id, request.expected_version),
            *request.conditions,
        ):
            current = self._stream_version(stream_id)
            if current != expected:
                raise ConcurrencyError(stream_id, expected, current)
        try:
            # One row at a time: a command appends one event or two, and a plain INSERT
            # ... RETURNING skips the machinery that orders a multi-row one.
            positions = [
                self._run(self._sql.event, row).fetchone()[0]
                for row in event_rows(request, self._now, self._schemas)
            ]
        except IntegrityError:
            # Another process appended to the stream between our check and our insert.
            current = self._stream_version(request.stream_id)
            raise ConcurrencyError(request.stream_id, request.expected_version, current) from None
        outcome = Outcome(position=positions[-1], ids=dict(request.ids))
        if (idempotency := request.command.idempotency) is not None:
            self._record_outcome(request.command, idempotency, outcome)
        return outcome, recorded_events(request, positions, self._now)

    def _record_outcome(
        self, command: CommandRecord, idempotency: Idempotency, outcome: Outcome
    ) -> None:
        try:
            self._run(
                self._sql.command,
                {
                    "scope": idempotency.scope,
                    "command_id": command.command_id,
                    "command_type": command.command_type,
                    "fingerprint": idempotency.fingerprint,
                    "position": outcome.position,
                    "ids": orjson.dumps(outcome.ids).decode(),
                    "recorded_at": self._now,
                },
            )
        except IntegrityError:
            raise DuplicateCommand(command.command_id) from None

    def _stream_version(self, stream_id: str) -> int:
        row = self._run(self._sql.version, {"stream_id": stream_id}).fetchone()
        return int(row[0] or 0)

    def _run(self, statement: DriverStatement, values: dict[str, object]) -> Any:
        return statement.run(self._conn, self._cursor, values)


def _read_only(error: Exception) -> LogReadOnly | None:
    if isinstance(error, DBAPIError) and _sqlstate(error) == READ_ONLY_SQLSTATE:
        return LogReadOnly(f"the database refuses writes: {_reason(error)}")
    return None


def _sqlstate(error: DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None)  # psycopg's; sqlite3 has none


def _reason(error: Exception) -> str:
    """The driver's own message, without the statement and parameters SQLAlchemy adds
    (a post's whole content, in a log line per failed commit)."""
    if isinstance(error, DBAPIError):
        return f"{type(error.orig).__name__}: {str(error.orig).strip()}"
    return str(error)


def _close(conn: Connection | None) -> None:
    """Gives a connection back to the pool; one that cannot even be closed is dropped."""
    if conn is not None:
        try:
            conn.close()
        except Exception:
            log.exception("closing the writer's connection failed")


def _tell(observer: Callable[..., None], *facts: object) -> None:
    """Runs an observer of the writer's (metrics, the event publisher) on its thread. One
    that raises (prometheus-client's files on a full disk, a loop closing) is logged: the
    appends are settled all the same. Raising here ended the thread, and every later
    command waited out COMMIT_SECONDS, unconfirmed, until the process restarted."""
    try:
        observer(*facts)
    except Exception:
        log.exception("an observer of the event log's commits failed")


def _give_up(pending: _Pending) -> None:
    """On the event loop, once the caller's deadline passed without a confirmation."""
    if not pending.future.done():
        pending.abandoned = True
        pending.future.set_exception(
            CommitUnconfirmed("the event log did not confirm the commit in time")
        )


def _settle(future: asyncio.Future[Outcome], result: Outcome | Exception) -> None:
    if future.done():  # the caller went away; the commit stands regardless
        return
    if isinstance(result, Exception):
        future.set_exception(result)
    else:
        future.set_result(result)
