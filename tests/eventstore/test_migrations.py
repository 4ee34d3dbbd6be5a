"""The log's tables come from Alembic migrations, also when processes start at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from eventstore.engines import open_engines
from eventstore.migrate import HEAD, MIGRATIONS
from eventstore.tables import events, metadata
from harness.server_process import ROOT

STARTERS = 4
OPEN = (
    "import sys; from eventstore.engines import open_engines; "
    "open_engines(sys.argv[1]).dispose(); print('opened')"
)


def test_head_names_the_newest_migration() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


def test_the_migrations_build_exactly_the_tables_the_code_uses(database_url: str) -> None:
    open_engines(database_url).dispose()
    engine = create_engine(database_url)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
    engine.dispose()


def test_processes_starting_at_once_on_an_empty_database_do_not_race(database_url: str) -> None:
    """Real processes, started together, each migrating at start: all succeed, once."""
    for _ in range(3):
        starters = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN, database_url],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(STARTERS)
        ]
        for starter in starters:
            output, _ = starter.communicate(timeout=120)
            assert starter.returncode == 0, output
            assert "opened" in output
        engine = create_engine(database_url)
        with engine.begin() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
            assert conn.execute(text("SELECT count(*) FROM log_identity")).scalar() == 1
            tables = {*metadata.tables, "alembic_version"}
            assert set(inspect(conn).get_table_names()) == tables
            for table in tables:
                conn.execute(text(f"DROP TABLE {table}"))  # empty again for the next round
        engine.dispose()


def test_a_database_made_before_migrations_is_adopted_with_its_events(tmp_path: Path) -> None:
    """With the tables create_all made then: events, commands and skipped_events. The
    last was created again by its migration, and no process could start (an outside
    probe)."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    for table in ("events", "commands", "skipped_events"):
        metadata.tables[table].create(engine)
    with engine.begin() as conn:
        conn.execute(
            events.insert().values(
                stream_id="user-1",
                version=1,
                type="UserRegistered",
                schema_version=1,
                data="{}",
                meta="{}",
                recorded_at=text("CURRENT_TIMESTAMP"),
            )
        )
    engine.dispose()
    open_engines(url).dispose()
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM events")).scalar() == 1
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
    engine.dispose()


@pytest.fixture(autouse=True)
def _root_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))


def test_a_start_waits_out_a_lock_held_longer_than_pysqlites_default(tmp_path: Path) -> None:
    """Another process holds the new database's lock for 5.5 s (a migration on a loaded
    machine). The switch to WAL ran before busy_timeout was set, under pysqlite's default
    of 5 s, and failed with "database is locked"; it now waits as every statement does."""
    path = tmp_path / "events.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(5.5, holder.execute, ("COMMIT",))
    release.start()
    try:
        open_engines(f"sqlite:///{path}").dispose()
    finally:
        release.join()
        holder.close()


def test_a_migrated_log_opens_while_another_process_holds_its_write_lock(
    tmp_path: Path,
) -> None:
    """`inkwell status` hung 22 s on a SQLite log whose write lock another process held,
    then said it could not be opened: the revision was read through the writer's BEGIN
    IMMEDIATE. Nothing to migrate, nothing needs the lock."""
    url = f"sqlite:///{tmp_path / 'events.db'}"
    open_engines(url).dispose()  # made and migrated
    holder = sqlite3.connect(tmp_path / "events.db", isolation_level=None, timeout=0)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        engines = open_engines(url)
        with engines.reader.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM events")).scalar() == 0
        engines.dispose()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
