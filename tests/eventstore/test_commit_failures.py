"""What a failed commit leaves for /ready to say: its reason while it is recent, nothing
once a commit succeeds or the failure is old (observability/readiness.py)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from eventstore.engines import Engines
from eventstore.store import SqlEventStore
from tests.support.appends import request


async def test_a_failed_commit_is_reported_while_recent_and_cleared_by_a_success(
    sql_store: SqlEventStore, engines: Engines
) -> None:
    assert sql_store.recent_commit_failure(30) is None
    with engines.writer.begin() as conn:  # every commit fails until it is back
        conn.execute(text("ALTER TABLE events RENAME TO events_away"))
    with pytest.raises(DBAPIError):
        await sql_store.append(request("user-1", 0))
    reason = sql_store.recent_commit_failure(30)
    assert reason is not None and "events" in reason and reason.endswith("s ago")
    time.sleep(0.01)
    assert sql_store.recent_commit_failure(0.005) is None  # older says nothing of now
    with engines.writer.begin() as conn:
        conn.execute(text("ALTER TABLE events_away RENAME TO events"))
    await sql_store.append(request("user-1", 0))
    assert sql_store.recent_commit_failure(30) is None
