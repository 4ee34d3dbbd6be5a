"""Migration 0003 keys the idempotency records of an existing log by their sender."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from sqlalchemy import create_engine, text

from eventstore.engines import open_engines
from eventstore.migrate import HEAD

BEFORE = """
CREATE TABLE commands (
    command_id VARCHAR(200) PRIMARY KEY, command_type VARCHAR(100) NOT NULL,
    fingerprint VARCHAR(64) NOT NULL, position BIGINT NOT NULL, ids TEXT NOT NULL,
    recorded_at TIMESTAMP WITH TIME ZONE NOT NULL)
"""


def test_records_written_before_scopes_belong_to_the_user_their_events_name(
    database_url: str,
) -> None:
    open_engines(database_url).dispose()  # the tables at HEAD, then back to 0002's commands
    engine = create_engine(database_url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE commands"))
        conn.execute(text("DROP TABLE log_identity"))  # 0004's
        conn.execute(text(BEFORE))
        conn.execute(text("UPDATE alembic_version SET version_num = '0002'"))
        for position, actor in ((1, "u1"), (2, None)):
            meta = orjson.dumps({"command_id": f"c{position}", "actor_id": actor}).decode()
            conn.execute(
                text(
                    "INSERT INTO events (stream_id, version, type, schema_version, data,"
                    " metadata, recorded_at) VALUES (:s, 1, 'UserRegistered', 1, '{}', :m, :t)"
                ),
                {"s": f"user-{position}", "m": meta, "t": now},
            )
            conn.execute(
                text("INSERT INTO commands VALUES (:c, 'RegisterUser', 'f', :p, '{}', :t)"),
                {"c": f"c{position}", "p": position, "t": now},
            )
    engine.dispose()

    open_engines(database_url).dispose()
    engine = create_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
        rows = conn.execute(text("SELECT scope, command_id FROM commands ORDER BY position"))
        assert [tuple(row) for row in rows] == [
            ("user:u1", "c1"),
            ("anonymous:before-scopes", "c2"),
        ]
    engine.dispose()
