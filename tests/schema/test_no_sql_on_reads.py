"""Queries are answered from Redis alone: not one SQL statement while serving them.

The API runs without projectors (they run in their own process), so nothing in
it has a reason to touch SQL except a query that should not.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from starlette.testclient import TestClient

from harness.server_process import ServerProcess
from infra.settings import Settings
from tests.support import operations as ops
from tests.support.api import Api
from wiring.asgi import create_app


@pytest.fixture
def projector(settings: Settings, tmp_path: Path) -> Iterator[ServerProcess]:
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "INKWELL_PREFIX": settings.prefix,
        "INKWELL_DATA_DIR": str(tmp_path / "projector"),
    }
    process = ServerProcess(env, tmp_path, command="project").start(wait=False)
    yield process
    process.stop()


def test_no_query_executes_sql(settings: Settings, projector: ServerProcess) -> None:
    """SQLite's own trace of every connection the app opens: it sees the statements that
    go to the driver without SQLAlchemy's events (eventstore/driver_sql.py, loop_reads.py)."""
    statements: list[str] = []
    recording = False

    def trace(statement: str) -> None:
        if recording:
            statements.append(statement)

    def traced(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(trace)

    event.listen(Engine, "connect", traced)
    try:
        with TestClient(create_app(settings, projectors=False)) as client:
            api = Api(client)
            ann = api.register("Ann")
            post = api.published_post(ann, "Visible", tags=["sql"])
            draft = api.create_post(ann, "Draft")

            recording = True
            for query, variables in [
                (ops.POST, {"id": post["id"]}),
                (ops.POST, {"id": draft["id"]}),
                (ops.USER, {"id": ann.id}),
                (ops.VIEWER, {}),
                (ops.RECENT, {"first": 5}),
                (ops.BY_AUTHOR, {"authorId": ann.id}),
                (ops.PROJECTIONS, {}),
            ]:
                api.ok(query, variables, token=ann.token)
                api.ok(query, variables, headers={"X-Consistent-With": "1"})

            assert statements == []
            api.ok(ops.PUBLISH_POST, {"input": {"postId": draft["id"]}}, token=ann.token)
            assert "BEGIN IMMEDIATE" in statements, "the trace sees SQL when there is some"
    finally:
        event.remove(Engine, "connect", traced)
