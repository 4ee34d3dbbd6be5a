"""Two deployments on one Redis and prefix, each with its own event log, as real processes.

Before read models were bound to a log, the second server went on from the
first's checkpoints: its events past them were applied on top of the first's
read models, and with a shorter log it rebuilt them from its own while the first
still served. Now it is refused while the first runs, and takes them over once
the first has stopped.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.redis_keys import forget
from harness.server_process import ServerProcess
from tests.support import operations as ops
from tests.support.api import Api, http_api
from tests.support.cli import run_cli
from tests.support.waiting import until_true

REFUSED = "a process of that log runs now"


def test_a_server_on_another_log_is_refused_while_the_first_runs(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    with ServerProcess(server_env, tmp_path) as first:
        api = http_api(first)
        ann = api.register("Ann")
        kept = api.published_post(ann, "Kept")
        elsewhere = _another_directory(server_env, tmp_path)
        for server_command in ("serve", "project", "api"):
            second = ServerProcess(elsewhere.env, elsewhere.cwd, command=server_command)
            try:
                process = second.start(wait=False).process
                assert process is not None
                assert process.wait(timeout=60) == 2, second.log.read_text()
            finally:
                second.close()  # nothing left to stop unless it was not refused
            assert REFUSED in second.log.read_text()
            assert "Traceback" not in second.log.read_text()
        for command in (["rebuild"], ["verify"], ["parked", "list"]):
            refused = run_cli(elsewhere.env, elsewhere.cwd, *command)
            assert refused.returncode == 2, refused.stdout + refused.stderr
            assert REFUSED in refused.stderr
        status = run_cli(elsewhere.env, elsewhere.cwd, "status")
        assert status.returncode == 1, status.stdout + status.stderr
        said = " ".join(status.stdout.split())
        assert "the wrong log" in said
        # Measured against an empty log they look restored from a backup; they are not,
        # and `rebuild` here would take them from the first (an outside probe).
        assert "ahead of the log:" not in said and "inkwell rebuild" not in said
        # The first deployment's read models are untouched, and it goes on.
        assert api.ok(ops.POST, {"id": kept["id"]})["post"]["title"] == "Kept"
        assert api.published_post(ann, "Still served")["title"] == "Still served"
        verified = run_cli(server_env, tmp_path, "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr


def test_an_api_node_alone_keeps_another_logs_process_out(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    """The log's projectors stopped (a redeploy), its `api` node still serving: a stray
    `project` of another log took the read models over, the node's feed went empty and
    this log's projectors could not start again (an outside probe). It is refused."""
    with ServerProcess(server_env, tmp_path) as first:
        api = http_api(first)
        kept = api.published_post(api.register("Ann"), "Kept")
    elsewhere = _another_directory(server_env, tmp_path)
    with ServerProcess(server_env, tmp_path, command="api") as node:
        stray = ServerProcess(elsewhere.env, elsewhere.cwd, command="project")
        try:
            process = stray.start(wait=False).process
            assert process is not None
            assert process.wait(timeout=60) == 2, stray.log.read_text()
        finally:
            stray.close()
        assert REFUSED in stray.log.read_text()
        assert http_api(node).ok(ops.POST, {"id": kept["id"]})["post"]["title"] == "Kept"


def test_a_server_on_another_log_takes_the_read_models_over_once_the_first_stopped(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    """The second log is the longer when it comes: its events past the first's checkpoints
    were applied on top of the first's read models, and the feed showed B6, A2, A1, B5,
    B4, B3 (the first's posts, not the second's first two)."""
    elsewhere = _another_directory(server_env, tmp_path)
    first = ServerProcess(server_env, tmp_path)
    second = ServerProcess(elsewhere.env, elsewhere.cwd)
    alone = ServerProcess(
        {**elsewhere.env, "INKWELL_PREFIX": f"{server_env['INKWELL_PREFIX']}-b"}, elsewhere.cwd
    )
    try:
        api = http_api(alone.start())  # the second log grows on a prefix of its own first
        bob = api.register("Bob")
        titles = [api.published_post(bob, f"Second log's {n}")["title"] for n in range(5)]
        alone.stop()
        api = http_api(first.start())
        old = api.published_post(api.register("Ann"), "First log's")
        first.stop()

        api = http_api(second.start())
        until_true(lambda: _recent_titles(api) == titles[::-1], timeout=30)
        assert api.ok(ops.POST, {"id": old["id"]})["post"] is None
        verified = run_cli(elsewhere.env, elsewhere.cwd, "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "takes them over" in second.log.read_text()
        # Now the first is the other log: refused by `verify` even once the second stops.
        second.stop()
        refused = run_cli(server_env, tmp_path, "verify")
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "start this log's server" in refused.stderr
        # ... and its own server takes them back, built again from its log.
        api = http_api(first.start())
        until_true(lambda: _recent_titles(api) == ["First log's"], timeout=30)
        assert api.ok(ops.POST, {"id": old["id"]})["post"]["title"] == "First log's"
    finally:
        for process in (alone, first, second):
            process.close()
        forget(server_env["REDIS_URL"], f"{server_env['INKWELL_PREFIX']}-b")


def test_a_log_restored_from_an_older_copy_keeps_its_read_models_bound(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    """A backup is the same log gone back: its identity is the same, so it is not taken
    for another deployment; its read models are rebuilt because their checkpoints are
    past its head (ProjectionRunner.catch_up)."""
    database = Path(server_env["DATABASE_URL"].removeprefix("sqlite:///"))
    backup = tmp_path / "backup"
    backup.mkdir()
    with ServerProcess(server_env, tmp_path) as server:
        api = http_api(server)
        ann = api.register("Ann")
        api.published_post(ann, "In the backup")
        server.stop()
        for path in database.parent.glob(f"{database.name}*"):  # with its -wal and -shm
            shutil.copy(path, backup / path.name)
        server.start()
        api.published_post(ann, "After the backup")
        server.stop()
        for path in database.parent.glob(f"{database.name}*"):
            path.unlink()
        for path in backup.iterdir():
            shutil.copy(path, database.parent / path.name)
        server.start()
        until_true(lambda: _recent_titles(api) == ["In the backup"], timeout=30)
        log = server.log.read_text()
        assert "past the log's head" in log
        assert "takes them over" not in log


class _Deployment:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd


def _another_directory(server_env: dict[str, str], tmp_path: Path) -> _Deployment:
    """The same REDIS_URL and prefix, with a log and data directory of its own: `serve`
    started in another directory, or another deployment pointed at the same Redis."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir(exist_ok=True)
    env = {
        **server_env,
        "DATABASE_URL": f"sqlite:///{cwd / 'inkwell.db'}",
        "INKWELL_DATA_DIR": str(cwd / "data"),
    }
    return _Deployment(env, cwd)


def _recent_titles(api: Api) -> list[str]:
    recent = api.ok(ops.RECENT, {"first": 20})["recentPosts"]
    return [edge["node"]["title"] for edge in recent["edges"]]
