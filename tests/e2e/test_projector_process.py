"""`serve` runs its projectors in a child process: started with it, restarted when it dies,
stopped in order with the server, and never left behind by a killed one."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import psutil
import pytest
import redis

from harness.server_process import ServerProcess
from projections.keyspace.keys import Keys
from tests.support.api import http_api
from tests.support.processes import projector_of, servers_on
from tests.support.waiting import until_true
from wiring.bootstrap import NAMES


def test_a_projector_process_that_dies_is_started_again_and_catches_up(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    # The killed child holds its leases for their term: a short one, so that its
    # successor takes over within the read-your-writes wait of the next write.
    env = {**server_env, "INKWELL_LEASE_SECONDS": "1", "INKWELL_CONSISTENCY_TIMEOUT": "30"}
    with ServerProcess(env, tmp_path) as server:
        api = http_api(server)
        ann = api.register("Ann")  # answered from the read models: the child applied it
        first = projector_of(server)
        first.kill()
        first.wait(10)
        post = api.create_post(ann, "Written while no projector ran")
        assert post["title"] == "Written while no projector ran"
        assert post["author"]["name"] == "Ann"
        assert projector_of(server).pid != first.pid
    assert f"the projector process {first.pid} exited with code -9" in server.log.read_text()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])  # a supervisor, Ctrl-C
def test_a_stopped_server_stops_its_projectors_first_and_they_let_their_leases_go(
    server_env: dict[str, str], tmp_path: Path, redis_url: str, prefix: str, stop: int
) -> None:
    server = ServerProcess(server_env, tmp_path).start()
    http_api(server).register("Ann")
    projector = projector_of(server)
    server.stop(stop)  # and waited for
    # the child is gone, and went in order (a killed one would hold its leases)
    assert not projector.is_running()
    leases = [Keys(prefix).lease(name) for name in NAMES]
    with redis.Redis.from_url(redis_url) as client:
        assert client.exists(*leases) == 0, "a lease was left to run out its term"


def test_a_killed_server_takes_its_projector_process_with_it(
    server_env: dict[str, str], tmp_path: Path, redis_url: str, prefix: str
) -> None:
    with ServerProcess(server_env, tmp_path) as server:
        http_api(server).register("Ann")
        projector = projector_of(server)
        server.kill()
        projector.wait(15)  # psutil.TimeoutExpired if it outlives its server
    leases = [Keys(prefix).lease(name) for name in NAMES]
    with redis.Redis.from_url(redis_url) as client:
        assert client.exists(*leases) == 0, "the orphaned projectors did not stop in order"


def test_ctrl_c_stops_the_embedded_defaults_in_order(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole foreground group: the server, and whatever it started in
    that group. Its projector process and its embedded Redis must wait for the server to
    stop them, or the projectors' last writes and lease releases meet a Redis that is gone."""
    unset: dict[str, str | None] = {"DATABASE_URL": None, "REDIS_URL": None}
    server = ServerProcess(unset, tmp_path, own_group=True).start()
    http_api(server).register("Ann")
    server.ctrl_c()
    log = server.log.read_text()
    assert "Application shutdown complete" in log
    assert "cleanup failed" not in log and "connection lost" not in log, log


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_stops_the_embedded_defaults_in_order_and_logs_it_all(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """A supervisor's stop (SIGTERM), or a closed terminal's (SIGHUP). uvicorn raised
    SIGTERM again once it had shut down, and Python's default handler killed the process
    there: exit -15, and the lines of the loop's last turn ("Application shutdown
    complete.") never written. SIGHUP was handled by no one: exit -1 at once."""
    unset: dict[str, str | None] = {"DATABASE_URL": None, "REDIS_URL": None}
    server = ServerProcess(unset, tmp_path).start()
    http_api(server).register("Ann")
    assert server.stop(sig) == 0
    log = server.log.read_text()
    assert "Application shutdown complete" in log and "Finished server process" in log, log
    assert "cleanup failed" not in log and "connection lost" not in log, log
    assert servers_on(tmp_path / "data") == []
    assert (tmp_path / "data" / "redis.rdb").is_file()


def test_an_api_worker_that_answers_late_is_not_killed(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    """uvicorn's supervisor kills a worker that does not answer its health check in 5 s. A
    new worker answers once it has imported the app, which took 8 s on a busy machine, so
    every replacement was killed while it started (an outside probe). A worker stopped for
    8 s stands in for one that slow."""
    with ServerProcess(server_env, tmp_path, command="api", args=["--workers", "2"]) as server:
        until_true(lambda: server.log.read_text().count("Application startup complete") == 2)
        assert server.process is not None
        worker = psutil.Process(server.process.pid).children()[0]
        worker.suspend()
        time.sleep(8)
        worker.resume()
        assert worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE
        assert http_api(server).ok("{ __typename }") == {"__typename": "Query"}
    assert "died" not in server.log.read_text()


def test_each_api_worker_logs_its_whole_shutdown(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    """A worker of `api --workers` ends by raising the stop signal again with its default
    action (uvicorn does so; only the main process makes it unwind): killed there, it lost
    its last turn's lines, deferred to the turn's end, on every stop."""
    with ServerProcess(server_env, tmp_path, command="api", args=["--workers", "2"]) as server:
        until_true(lambda: server.log.read_text().count("Application startup complete") == 2)
        assert server.stop() == 0
    log = server.log.read_text()
    assert log.count("Application shutdown complete") == 2, log
    assert log.count("Finished server process") == 2, log
