"""A killed writer loses no acknowledged append: kill -9 mid-stream, then count."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, select

from eventstore.tables import events

# Appends one event at a time (many concurrently) and prints each position as it is acknowledged.
APPENDER = """
import asyncio, sys, uuid
from datetime import UTC, datetime
from domain.events import UserRegistered
from domain.ports import AppendRequest, CommandRecord, Idempotency
from eventstore.engines import open_engines
from eventstore.store import SqlEventStore
from eventstore.writer import GroupCommitWriter

async def one(store):
    user = uuid.uuid4().hex
    event = UserRegistered(user, "Ann", None, "", datetime.now(UTC))
    command = CommandRecord(user, "T", None, "c", Idempotency("anonymous:crash", "f"))
    request = AppendRequest(f"user-{user}", 0, (event,), command, {})
    outcome = await store.append(request)
    print(outcome.position, flush=True)

async def main():
    engines = open_engines(sys.argv[1])
    writer = GroupCommitWriter(engines, lambda _: None)
    writer.start()
    store = SqlEventStore(engines, writer)
    while True:
        await asyncio.gather(*[one(store) for _ in range(20)])

asyncio.run(main())
"""


def test_every_acknowledged_append_survives_a_kill(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    output = tmp_path / "acknowledged.txt"
    with output.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", APPENDER, url],
            stdout=sink,
            cwd=Path(__file__).parents[2],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        )
        deadline = time.monotonic() + 30
        while output.stat().st_size < 20_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    acknowledged = {int(line) for line in output.read_text().split()}
    assert len(acknowledged) > 1000
    engine = create_engine(url)
    with engine.connect() as conn:
        stored = set(conn.execute(select(events.c.position)).scalars())
    engine.dispose()
    assert acknowledged <= stored
    assert stored == set(range(1, max(stored) + 1))  # and nothing torn or skipped
