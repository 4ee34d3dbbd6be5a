"""Statements on the driver's cursor fail exactly as through SQLAlchemy, and are counted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import column, insert, select, table
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from eventstore.driver_sql import DriverStatement
from eventstore.engines import Engines
from eventstore.loop_reads import LoopReads
from eventstore.tables import commands
from observability.faults import count_database_errors

ROW = {
    "scope": "user:u",
    "command_id": "c",
    "command_type": "T",
    "fingerprint": "f",
    "position": 1,
    "ids": "{}",
}


def test_a_row_inserted_on_the_driver_reads_back_as_through_sqlalchemy(engines: Engines) -> None:
    statement = DriverStatement(insert(commands), engines.writer.dialect, [*ROW, "recorded_at"])
    at = datetime(2026, 12, 2, 12, 30, 1, 123456, tzinfo=UTC)
    with engines.writer.begin() as conn:
        statement.run(conn, conn.connection.driver_connection.cursor(),  # type: ignore[union-attr]
                      {**ROW, "recorded_at": at})  # fmt: skip
    with engines.reader.connect() as conn:
        stored = conn.execute(select(commands.c.recorded_at)).scalar_one()
    assert stored.replace(tzinfo=UTC) == at


def test_driver_errors_surface_as_sqlalchemy_errors_and_are_counted(engines: Engines) -> None:
    counted: list[BaseException] = []
    count_database_errors(engines.writer, counted.append)
    duplicate = DriverStatement(insert(commands), engines.writer.dialect, [*ROW, "recorded_at"])
    missing = DriverStatement(select(column("x")).select_from(table("no_such_table")),
                              engines.writer.dialect)  # fmt: skip
    row = {**ROW, "recorded_at": datetime.now(UTC)}
    with engines.writer.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        duplicate.run(conn, cursor, row)
        with pytest.raises(IntegrityError), conn.begin_nested():
            duplicate.run(conn, cursor, row)
    assert counted == []  # a refused duplicate is how the log says no, not a fault
    with pytest.raises((OperationalError, ProgrammingError)), engines.writer.begin() as conn:
        missing.run(conn, conn.connection.driver_connection.cursor(), {})  # type: ignore[union-attr]
    assert len(counted) == 1


def test_a_failing_loop_read_surfaces_as_sqlalchemy_error_and_is_counted(
    engines: Engines,
) -> None:
    if not engines.is_sqlite:
        pytest.skip("only SQLite reads run on the loop")
    counted: list[BaseException] = []
    count_database_errors(engines.reader, counted.append)
    reads = LoopReads(engines.reader)
    assert reads.stream("nothing", 0) == [] and reads.outcome("user:u", "nothing") is None
    with engines.writer.begin() as conn:
        conn.exec_driver_sql("DROP TABLE commands")
    with pytest.raises(OperationalError):
        reads.outcome("user:u", "c")
    assert len(counted) == 1


def test_the_writers_begin_takes_the_write_lock_and_fails_as_through_sqlalchemy(
    engines: Engines,
) -> None:
    """SQLite's writer begins with BEGIN IMMEDIATE on the driver: a second writer waits
    for the lock (here briefly), then gets SQLAlchemy's OperationalError, counted."""
    if not engines.is_sqlite:
        pytest.skip("the BEGIN IMMEDIATE is SQLite's")
    counted: list[BaseException] = []
    count_database_errors(engines.writer, counted.append)
    with engines.writer.connect() as holder, engines.writer.connect() as waiter:
        waiter.connection.driver_connection.execute("PRAGMA busy_timeout=50")  # type: ignore[union-attr]
        with holder.begin(), pytest.raises(OperationalError, match="locked"), waiter.begin():
            pass
        with waiter.begin():  # the lock is free again
            waiter.connection.driver_connection.execute("SELECT 1")  # type: ignore[union-attr]
    assert len(counted) == 1
