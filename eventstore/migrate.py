"""Brings the log's tables to the newest Alembic revision, safely from many processes at once.

Every process runs this at start. The whole upgrade runs in one transaction that
first takes the database's write lock (SQLite: the writer engine's BEGIN
IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock), so two processes
starting on an empty database take turns: the first creates the tables, the
second finds them at the newest revision and does nothing.

A database already at HEAD is recognised with one query, without importing
Alembic (about 1.5 s of a process's start on this machine; API workers must
answer their supervisor's first ping within 5 s).
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "0004"  # the newest revision in migrations/versions; a test keeps them equal
# Any constant works: it only has to be the same for every Inkwell process of the database.
POSTGRES_MIGRATION_LOCK = 0x1A7E_3E12


def migrate(engine: Engine, reader: Engine) -> None:
    """Upgrades to HEAD. `engine` must begin transactions that hold the write lock on
    SQLite (the writer engine's BEGIN IMMEDIATE). Whether there is anything to do is read
    through `reader`, which takes no lock: read through the writer, every start, `status`
    and `events tail` included, waited for the write lock, and while another process held
    it (a long transaction, a backup tool) `status` hung 22 s, then said the log could
    not be opened, where /ready answered at once."""
    with reader.connect() as conn:
        if revision(conn) == HEAD:
            return
    # A line per plugin, logged as alembic.command is imported: quiet before that.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"SELECT pg_advisory_xact_lock({POSTGRES_MIGRATION_LOCK})"))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def revision(conn: Connection) -> str | None:
    """The database's Alembic revision; None when it has none yet."""
    try:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        conn.rollback()
        return None
