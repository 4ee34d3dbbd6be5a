"""The README's default setup: `inkwell serve` with no REDIS_URL, then the operator tools
from the same directory, as the console script, finding the server's embedded Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from harness.net import free_port
from harness.server_process import ServerProcess
from infra.embedded_redis import EmbeddedRedis, socket_path, starting_in
from projections.keyspace.active_spaces import ActiveSpaces
from projections.keyspace.keys import Keys
from tests.support.api import http_api
from tests.support.log import make_log
from tests.support.processes import servers_on

INKWELL = str(Path(sys.executable).with_name("inkwell"))
# Nothing that would point the tools at another Redis or database: the defaults only.
UNSET = ("REDIS_URL", "REDIS_READ_URL", "DATABASE_URL", "INKWELL_DATA_DIR", "INKWELL_PREFIX")


def inkwell(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """On the defaults but the port: `serve` and `api` check they can listen first, and
    8000 may be taken."""
    env = {name: value for name, value in os.environ.items() if name not in UNSET}
    env["PORT"] = str(free_port())
    return subprocess.run(
        [INKWELL, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def default_server(tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(dict.fromkeys(UNSET), tmp_path) as server:
        yield server


def test_status_and_verify_read_the_served_read_models(
    default_server: ServerProcess, tmp_path: Path
) -> None:
    api = http_api(default_server)
    ann = api.register("Ann")
    post_id = api.published_post(ann, "Served")["id"]
    socket = socket_path(tmp_path / "data")
    assert socket.is_socket()

    status = inkwell(tmp_path, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "posts" in status.stdout

    clean = inkwell(tmp_path, "verify")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "the read models match the log" in clean.stdout

    served = redis.Redis(unix_socket_path=str(socket), decode_responses=True)
    active = str(served.get(Keys("inkwell").namespace("posts")))
    keys = Keys("inkwell", ActiveSpaces({"posts": active}))
    served.hset(keys.post(post_id), "title", "Tampered")
    served.close()
    tampered = inkwell(tmp_path, "verify")
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr
    assert "Tampered" in tampered.stdout and "1 keys differ" in tampered.stdout


def test_tools_say_when_no_server_runs_and_start_no_redis(tmp_path: Path) -> None:
    make_log(f"sqlite:///{tmp_path / 'data' / 'inkwell.db'}")  # a server ran here, and stopped
    for command in ("status", "verify"):
        result = inkwell(tmp_path, command)
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.startswith("no Redis to read"), result.stderr
        assert "inkwell serve" in result.stderr
        # A server given REDIS_URL keeps no Redis here: run without it, the tools said
        # no server ran (an outside probe).
        assert "set the same REDIS_URL here" in result.stderr
        # One line, as every start-up refusal (wrapped at 80 columns, it was 4).
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not socket_path(tmp_path / "data").exists()


def test_tools_say_when_the_servers_redis_listens_and_does_not_answer(tmp_path: Path) -> None:
    """Frozen (SIGSTOP), the embedded Redis takes connections and answers nothing. The
    tools said no server ran and to start one, beside the one running (an outside probe)."""
    data = tmp_path / "data"
    make_log(f"sqlite:///{data / 'inkwell.db'}")
    redis_server = EmbeddedRedis(data)
    with starting_in(data):
        client = redis.Redis.from_url(redis_server.start())
    frozen = int(client.info()["process_id"])
    client.close()
    os.kill(frozen, signal.SIGSTOP)
    try:
        result = inkwell(tmp_path, "status")
    finally:
        os.kill(frozen, signal.SIGCONT)
        redis_server.close()
    assert result.returncode == 2, result.stdout + result.stderr
    assert "does not answer" in result.stderr and "takes connections" in result.stderr
    assert "Start the server" not in result.stderr


def test_a_second_process_on_the_data_directory_uses_the_first_ones_redis(
    default_server: ServerProcess, tmp_path: Path
) -> None:
    seeded = inkwell(tmp_path, "seed", "--posts", "3", "--publish", "1")
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    assert "the read models show it all" in seeded.stdout
    recent = http_api(default_server).ok("{ recentPosts { totalCount } }")
    assert recent["recentPosts"]["totalCount"] == 3


def test_the_embedded_redis_is_started_again_when_it_is_killed(
    default_server: ServerProcess, tmp_path: Path
) -> None:
    """The OOM killer or a kill -9 takes the server's own Redis: the server starts it again,
    and everything acknowledged before and after reads back, equal to a replay."""
    api = http_api(default_server)
    ann = api.register("Ann")
    before = api.published_post(ann, "Before")["id"]
    served = redis.Redis(unix_socket_path=str(socket_path(tmp_path / "data")))
    killed = int(served.info("server")["process_id"])
    os.kill(killed, signal.SIGKILL)

    deadline = time.monotonic() + 20
    while True:
        try:
            if int(served.info("server")["process_id"]) != killed:
                break
        except redis.ConnectionError:
            pass
        assert time.monotonic() < deadline, default_server.log.read_text()[-3000:]
        time.sleep(0.1)
    served.close()

    after = api.published_post(ann, "After")["id"]
    head = api.ok("{ projections { headPosition } }")["projections"][0]["headPosition"]
    shown = api.ok(
        "{ recentPosts { edges { node { id } } } }", headers={"X-Consistent-With": str(head)}
    )
    assert {edge["node"]["id"] for edge in shown["recentPosts"]["edges"]} == {before, after}
    clean = inkwell(tmp_path, "verify")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    log = default_server.log.read_text()
    assert "the embedded Redis exited with code -9" in log
    assert "the embedded Redis is back after" in log


@pytest.mark.parametrize("command", [("serve",), ("api",), ("project",), ("seed", "--posts", "1")])
def test_an_embedded_redis_that_cannot_start_ends_the_command_with_its_reason(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    """One line that says why, exit code 2: `serve` printed uvicorn's "Application startup
    failed" under a traceback, and `seed` and `project` a traceback of their own."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "redis.rdb").write_bytes(b"not a snapshot at all")
    result = inkwell(tmp_path, *command)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Wrong signature trying to load DB from file" in result.stderr
    assert "redis.log" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "startup failed" not in result.stdout + result.stderr


def test_a_data_directory_the_embedded_redis_cannot_use_ends_serve_in_one_line(
    tmp_path: Path,
) -> None:
    """With the signing key and the log elsewhere (so nothing else is made there), a data
    directory that cannot be made reached the embedded Redis's start as an 84-line
    traceback."""
    (tmp_path / "a-file").write_text("")
    env = {name: value for name, value in os.environ.items() if name not in UNSET}
    env["INKWELL_DATA_DIR"] = str(tmp_path / "a-file" / "data")
    env["INKWELL_SECRET"] = "the-default-setup-tests-signing-key"
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'events.db'}"  # the log elsewhere
    env["PORT"] = str(free_port())  # serve checks it can listen first: 8000 may be taken
    result = subprocess.run(
        [INKWELL, "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines()[-1] == (  # after the log's migration lines
        f"the embedded Redis cannot start in {tmp_path}/a-file/data/: [Errno 20] Not a "
        f"directory: '{tmp_path}/a-file/data'"
    )
    assert "Traceback" not in result.stdout + result.stderr


def test_api_workers_share_one_embedded_redis(tmp_path: Path) -> None:
    """`api --workers 2` with no REDIS_URL: each worker started its own embedded Redis, the
    second unlinked the first's socket, and the first ran on, unreachable."""
    with ServerProcess(dict.fromkeys(UNSET), tmp_path, "api", ["--workers", "2"]) as server:
        api = http_api(server)
        for _ in range(10):  # some land on each worker
            assert api.ok("{ __typename }") == {"__typename": "Query"}
        servers = servers_on(tmp_path / "data")
        assert len(servers) == 1, servers
