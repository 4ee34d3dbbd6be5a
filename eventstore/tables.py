"""The two tables of the log: events (append-only) and commands (idempotency, same transaction)."""

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

commands = Table(
    "commands",
    metadata,
    Column("command_id", String(200), primary_key=True),
    Column("command_type", String(100), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("ids", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
