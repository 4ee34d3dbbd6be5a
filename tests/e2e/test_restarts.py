"""Real processes, really stopped: tokens outlive the server, projections outlive a kill -9."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from harness.server_process import ServerProcess
from tests.support import operations as ops
from tests.support.api import http_api
from tests.support.cli import run_cli
from tests.support.waiting import until_true


def test_a_token_issued_before_a_restart_works_after_it(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    with ServerProcess(server_env, tmp_path) as first:
        ann = http_api(first).register("Ann")
    with ServerProcess(server_env, tmp_path) as second:
        post = http_api(second).create_post(ann, "After the restart")
        assert post["author"]["id"] == ann.id


def test_a_projector_killed_mid_stream_resumes_and_loses_nothing(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    # A killed projector holds its lease for its term: a short one, so that each restarted
    # process takes over (and is killed again mid-stream) within the test's waits.
    env = {**server_env, "INKWELL_LEASE_SECONDS": "1"}
    api_server = ServerProcess(env, tmp_path, command="api").start()
    projector = ServerProcess(env, tmp_path, command="project").start(wait=False)
    try:
        api = http_api(api_server)
        ann = api.register("Ann")  # waits for the read models: the first process runs them
        published = 0
        for round_ in range(3):
            if round_:  # the restarted process has taken over and caught up
                api.ok(ops.PROJECTIONS, headers={"X-Consistent-With": str(2 * published + 1)})
            for i in range(15):
                created = api.ok(
                    "mutation($i: CreatePostInput!) { createPost(input: $i) { postId } }",
                    {"i": {"title": f"Round {round_} post {i}", "content": ""}},
                    token=ann.token,
                )
                api.ok(
                    "mutation($i: PostCommandInput!) { publishPost(input: $i) { position } }",
                    {"i": {"postId": created["createPost"]["postId"]}},
                    token=ann.token,
                )
                published += 1
            projector.stop(signal.SIGKILL)
            time.sleep(0.2)
            projector.start(wait=False)

        settled = api.ok(ops.PROJECTIONS, headers={"X-Consistent-With": str(2 * published + 1)})
        assert all(status["lag"] == 0 for status in settled["projections"])
        recent = api.ok(ops.RECENT, {"first": 100})["recentPosts"]
        assert recent["totalCount"] == published
        assert len({edge["node"]["id"] for edge in recent["edges"]}) == published
        assert api.ok(ops.USER, {"id": ann.id})["user"]["publishedPostCount"] == published
    finally:
        api_server.stop()
        if projector.process is not None:
            projector.stop()


def test_the_server_runs_on_its_embedded_defaults(tmp_path: Path) -> None:
    """No DATABASE_URL, no REDIS_URL: a SQLite file under ./data and a private Redis."""
    unset: dict[str, str | None] = {
        "DATABASE_URL": None,
        "REDIS_URL": None,
        "INKWELL_DATA_DIR": None,
    }
    with ServerProcess(unset, tmp_path) as server:
        api = http_api(server)
        ann = api.register("Ann")
        assert api.published_post(ann)["status"] == "PUBLISHED"
        assert (tmp_path / "data" / "inkwell.db").exists()
        assert (tmp_path / "data" / "secret.key").exists()
    assert not _children_of_nobody(str(tmp_path)), "the embedded Redis outlived the server"
    assert (tmp_path / "data" / "redis.rdb").exists()


def _children_of_nobody(marker: str) -> str:
    """Command lines of Redis servers (redis-server, or the wheel's valkey-server) whose
    parent is init (orphans) and whose command line holds `marker` (their directory)."""
    orphans = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
            cmdline = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if (
            fields.get("Name", "").strip() in ("redis-server", "valkey-server")
            and fields.get("PPid", "").strip() == "1"
            and marker in cmdline
        ):
            orphans.append(cmdline)
    return "\n".join(orphans)


def test_a_log_replaced_under_kept_read_models_is_projected_from_its_start(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    """The SQLite log deleted while Redis kept its read models: every new event had a
    position the checkpoints had passed, and was skipped in silence. The new user's
    `viewer` was null, its post NOT_FOUND, and the feed showed the old log's posts. The
    new log is another log: it takes the read models over (tests/e2e/test_log_binding.py
    has a backup restored, the same log gone back)."""
    server = ServerProcess(server_env, tmp_path).start()
    api = http_api(server)
    old = api.register("Old")
    for title in ("Old one", "Old two", "Old three"):
        api.published_post(old, title)
    server.stop()
    database = Path(server_env["DATABASE_URL"].removeprefix("sqlite:///"))
    for path in database.parent.glob(f"{database.name}*"):  # with its -wal and -shm
        path.unlink()

    server.start()
    try:
        # Until the rebuild is swapped in: meanwhile the old read models still answer.
        until_true(
            lambda: all(p["position"] == 0 for p in api.ok(ops.PROJECTIONS)["projections"]),
            timeout=30,
        )
        new = api.register("New")  # waits for its read models: the viewer below
        assert api.ok(ops.VIEWER, token=new.token)["viewer"]["name"] == "New"
        post = api.published_post(new, "New one")
        assert post["title"] == "New one"
        recent = api.ok(ops.RECENT, {"first": 10})["recentPosts"]
        assert [edge["node"]["title"] for edge in recent["edges"]] == ["New one"]
        verified = run_cli(server_env, tmp_path, "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "takes them over" in server.log.read_text()
    finally:
        server.stop()
