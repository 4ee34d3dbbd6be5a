"""An event log restored from an older backup under read models built further, as real
processes: SQLite backed up online and its file copied back with the server stopped;
PostgreSQL dumped and restored with pg_restore under the running server.

Until the projectors' rebuild from the restored log swapped in (90 s for a log of 47,731
events), `/ready` answered 200 "ready" with posts at `position 47963, head 47731, lag 0`,
and `inkwell status` said "caught up" and exited 0, while queries served 232 events the
log no longer had: lag is the head minus the checkpoint, floored at 0.

The window is held open here, not raced: the test holds the posts projection's rebuild
lock as a projector rebuilding on its own holds it (with its holder id), so the
server's projector waits for it, and lets it go once it has looked.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import redis
from sqlalchemy.engine import make_url

from harness.server_process import ServerProcess
from projections.keyspace.keys import Keys
from projections.projectors.holders import PROJECTOR
from projections.projectors.lease import holder_id
from tests.support import operations as ops
from tests.support.api import Api, http_api
from tests.support.cli import run_cli
from tests.support.metrics import parse, value
from tests.support.waiting import until_true

# Restores the backup under `server`; returns once the restored log is served.
Restore = Callable[[ServerProcess], None]


def test_a_sqlite_log_restored_from_an_older_copy_is_not_ready_until_rebuilt(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    database = Path(server_env["DATABASE_URL"].removeprefix("sqlite:///"))
    backup = tmp_path / "backup.db"

    def back_up() -> None:  # what `sqlite3 inkwell.db ".backup backup.db"` does
        with sqlite3.connect(database) as live, sqlite3.connect(backup) as copy:
            live.backup(copy)

    def restore(server: ServerProcess) -> None:
        server.stop()
        for path in database.parent.glob(f"{database.name}*"):  # with its -wal and -shm
            path.unlink()
        shutil.copy(backup, database)
        server.start()

    _restored_under_read_models_built_further(server_env, tmp_path, back_up, restore)


@pytest.mark.postgres
def test_a_postgresql_log_restored_under_the_running_server_is_not_ready_until_rebuilt(
    postgres_url: str, server_env: dict[str, str], tmp_path: Path
) -> None:
    found = re.search(r"search_path%3D(\w+)", postgres_url)
    assert found is not None, postgres_url
    schema = found[1]
    libpq = make_url(postgres_url).set(drivername="postgresql", query={})
    database = libpq.render_as_string(hide_password=False)
    dump = tmp_path / "backup.dump"

    def back_up() -> None:
        pg = ["pg_dump", f"--dbname={database}", f"--schema={schema}", "--format=custom"]
        subprocess.run([*pg, f"--file={dump}"], check=True, timeout=60)

    def restore(server: ServerProcess) -> None:
        pg = ["pg_restore", f"--dbname={database}", "--clean", "--if-exists"]
        subprocess.run([*pg, "--single-transaction", str(dump)], check=True, timeout=60)

    env = {**server_env, "DATABASE_URL": postgres_url}
    _restored_under_read_models_built_further(env, tmp_path, back_up, restore)


def _restored_under_read_models_built_further(
    env: dict[str, str], tmp_path: Path, back_up: Callable[[], None], restore: Restore
) -> None:
    with ServerProcess(env, tmp_path) as server:
        api = http_api(server)
        ann = api.register("Ann")
        api.published_post(ann, "In the backup")
        backup_head = _caught_up(server, at_least=3)  # registered, created, published
        back_up()
        api.published_post(ann, "After the backup")  # two events more: created, published
        head = _caught_up(server, at_least=backup_head + 2)
        assert head == backup_head + 2

        with _rebuild_lock_held(env, "posts") as holder:
            restore(server)
            answer = _posts_ahead(server)
            assert answer["status"] == "not ready", answer
            posts = answer["checks"]["projection:posts"]
            assert "projection:posts" in answer["failed"]
            assert (posts["position"], posts["head"], posts["aheadOfLog"]) == (
                head,
                backup_head,
                2,
            )
            assert f"checkpoint {head} is past the log's head {backup_head}" in posts["reason"]

            status = run_cli(env, tmp_path, "status")
            said = " ".join(status.stdout.split())
            assert status.returncode == 1, said
            assert "ahead of the log" in said
            assert f"posts: checkpoint {head}, log head {backup_head}, 2 events ahead" in said
            pid = holder.split(":")[1]
            assert f"rebuilding: the projector (process {pid} on host" in said

            metrics = parse(httpx.get(f"{server.url}/metrics").text)
            gauge = "inkwell_projection_ahead_of_log_events"
            assert value(metrics, gauge, projection="posts") == 2
            assert value(metrics, "inkwell_projection_lag_events", projection="posts") == 0

            refused = run_cli(env, tmp_path, "rebuild", "--projection", "posts")
            said = " ".join(refused.stdout.split())
            assert refused.returncode == 1, said + refused.stderr
            assert f"the projector (process {pid} on host" in said
            assert "rebuilding it on its own" in said

        until_true(lambda: _ready(server)[0] == 200, timeout=60)
        assert _recent_titles(api) == ["In the backup"]
        status = run_cli(env, tmp_path, "status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "ahead of the log" not in status.stdout


@contextmanager
def _rebuild_lock_held(env: dict[str, str], projection: str) -> Iterator[str]:
    """Holds the projection's rebuild lock as its projector holds it while rebuilding;
    yields the holder id."""
    keys = Keys(env["INKWELL_PREFIX"])
    client = redis.Redis.from_url(env["REDIS_URL"], decode_responses=True)
    try:
        holder = holder_id(str(client.get(keys.log())), PROJECTOR)
        assert client.set(keys.rebuilding(projection), holder, nx=True, ex=600)
        yield holder
    finally:
        if client.get(keys.rebuilding(projection)) == holder:
            client.delete(keys.rebuilding(projection))
        client.close()


def _ready(server: ServerProcess) -> tuple[int, dict[str, Any]]:
    response = httpx.get(f"{server.url}/ready", timeout=10)
    body: dict[str, Any] = response.json()
    return response.status_code, body


def _caught_up(server: ServerProcess, at_least: int) -> int:
    """The log's head, once /ready is 200 with every projection at it and the head at
    `at_least` or past it (/ready's answer may be up to a second old)."""

    def heads() -> set[int]:
        code, body = _ready(server)
        checks = [c for name, c in body["checks"].items() if name.startswith("projection:")]
        at_head = code == 200 and all(c["position"] == c["head"] >= at_least for c in checks)
        return {c["head"] for c in checks} if at_head else set()

    (head,) = until_true(heads)
    return head


def _posts_ahead(server: ServerProcess) -> dict[str, Any]:
    """/ready's answer once it has a check of the posts projection past the head."""

    def answer() -> dict[str, Any]:
        code, body = _ready(server)
        posts = body.get("checks", {}).get("projection:posts", {})
        return body if code == 503 and "aheadOfLog" in posts else {}

    return until_true(answer)


def _recent_titles(api: Api) -> list[str]:
    recent = api.ok(ops.RECENT, {"first": 20})["recentPosts"]
    return [edge["node"]["title"] for edge in recent["edges"]]
