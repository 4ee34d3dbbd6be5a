"""What one commit of one event costs SQLite alone, on the disk the write benchmark uses.

The floor under the command cycle at 1 writer: a transaction of one row in Inkwell's
own events table (its schema, made by its migrations), with the pragmas Inkwell sets
(WAL, synchronous=FULL), on the driver, nothing else around it. Every command at 1
writer pays it once, Inkwell's and the library's alike; what a system adds to it is its
own cost.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from eventstore.engines import open_engines

INSERT = (
    "INSERT INTO events (stream_id, version, type, schema_version, data, metadata, recorded_at)"
    " VALUES (?, 1, 'PostUpdated', 1, ?, ?, '2026-12-07 12:00:00.000000')"
)
DATA = '{"post_id":"%s","author_id":"u","title":"Edit","content":"Text.","tags":[],' \
    '"updated_at":"2026-12-07T12:00:00+00:00"}'  # fmt: skip
META = '{"command_id":"c","command_type":"UpdatePost","actor_id":"u","correlation_id":"r"}'


def commits_per_second(database: Path, seconds: float) -> float:
    open_engines(f"sqlite:///{database}").dispose()  # the schema, by the migrations
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        deadline, done = time.perf_counter() + seconds, 0
        started = time.perf_counter()
        while time.perf_counter() < deadline:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(INSERT, (f"post-{done}", DATA % done, META))
            connection.execute("COMMIT")
            done += 1
        return done / (time.perf_counter() - started)
    finally:
        connection.close()
