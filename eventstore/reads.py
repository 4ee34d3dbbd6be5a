"""How every SQL read of the log runs: on a reader thread, rows fetched whole.

The rows are fetched and the connection given back before anyone decodes them: a
decoding error must never leave a statement open, because a pooled SQLite
connection with an open statement keeps its old snapshot, and every later read on
it would see the log as it was (fresh users "do not exist", the head stands still).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine

T = TypeVar("T")


async def read(engine: Engine, query: Callable[[Connection], T]) -> T:
    """Runs `query` on a connection of `engine` in a worker thread; the query must return
    plain data (rows fetched with .all(), never a cursor)."""

    def run() -> T:
        with engine.connect() as conn:
            return query(conn)

    return await asyncio.to_thread(run)


class ReadUnanswered(Exception):
    """The log did not answer a read in time: the database stopped answering (paused, a
    failover, a lock held on the table). The read goes on in its thread until it does."""


async def read_within(engine: Engine, query: Callable[[Connection], T], seconds: float) -> T:
    """`read`, given up after `seconds` with ReadUnanswered. A command's reads: a write is
    held COMMIT_SECONDS at most when the database stops answering (README), but only its
    commit was, and a command loading its stream from a paused PostgreSQL waited for the
    whole pause (24 s of a 25 s one, 45 s behind a 45 s lock, in an outside probe)."""
    try:
        return await asyncio.wait_for(read(engine, query), seconds)
    except TimeoutError:
        raise ReadUnanswered(f"the event log did not answer a read within {seconds:g} s") from None
