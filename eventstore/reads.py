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
