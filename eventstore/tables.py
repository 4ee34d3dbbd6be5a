"""The tables of the log: events (append-only), commands (idempotency, same transaction),
skipped_events (events an operator chose to drop from a projection), and
log_identity (the one row that names this log).

Alembic migrations (eventstore/migrations) create and evolve them; these
definitions are what the code reads and writes, and a test keeps both equal."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# SQLite's AUTOINCREMENT never reuses a position; PostgreSQL gets a BIGSERIAL.
Position = BigInteger().with_variant(Integer, "sqlite")

events = Table(
    "events",
    metadata,
    Column("position", Position, primary_key=True, autoincrement=True),
    Column("stream_id", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", String(100), nullable=False),
    Column("schema_version", SmallInteger, nullable=False),
    Column("data", Text, nullable=False),
    Column("metadata", Text, nullable=False, key="meta"),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("stream_id", "version", name="events_stream_version"),
    sqlite_autoincrement=True,
)

# A command id is the key of its sender only: the scope names the sender (a user, or for
# an anonymous command its address and payload), so one caller can neither replay nor
# reserve another's id.
commands = Table(
    "commands",
    metadata,
    Column("scope", String(100), primary_key=True),
    Column("command_id", String(200), primary_key=True),
    Column("command_type", String(100), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("ids", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

skipped_events = Table(
    "skipped_events",
    metadata,
    Column("projection", String(100), primary_key=True),
    Column("position", BigInteger, primary_key=True),
    Column("skipped_by", String(200), nullable=False),
    Column("skipped_at", DateTime(timezone=True), nullable=False),
)

# One row, written by the migration that made the table: what Redis's read models are
# bound to (projections/keyspace/log_binding.py).
log_identity = Table(
    "log_identity",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
