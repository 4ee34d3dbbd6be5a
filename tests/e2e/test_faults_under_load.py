"""Faults one after another under a steady load of writes, on real processes.

Each fault has a test of its own elsewhere; here they come in a row while clients keep
writing, as they would on a bad day: Redis flushed, the projector process killed,
Redis killed and back empty, then the whole server killed and started again. Every
write the server acknowledged must then be readable, and the read models must equal
a replay of the log (`inkwell verify`).
"""

from __future__ import annotations

import signal
from pathlib import Path

import psutil
import redis

from harness.net import free_port
from harness.redis_server import start as redis_server
from harness.server_process import ServerProcess
from tests.support.api import http_api
from tests.support.write_load import assert_exact, assert_readable, load

STEP = 25  # acknowledged writes between two faults


def test_every_acknowledged_write_survives_a_row_of_faults_under_load(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    redis_processes = [redis_server(port)]
    # A killed server's projector child holds its lease for its term: a short one, so that
    # the restarted server's projectors take over within the test's waits.
    env = {**server_env, "REDIS_URL": f"redis://127.0.0.1:{port}", "INKWELL_LEASE_SECONDS": "1"}
    server = ServerProcess(env, tmp_path).start()
    api = http_api(server)

    def flush_redis() -> None:
        redis.Redis(port=port).flushall()

    def kill_the_projector_process() -> None:
        assert server.process is not None
        children = psutil.Process(server.process.pid).children()
        assert children, "serve runs its projectors in a child process"
        for child in children:
            child.send_signal(signal.SIGKILL)

    def kill_redis_and_start_it_empty() -> None:
        redis_processes[-1].kill()
        redis_processes[-1].wait()
        done.wait_for_more(STEP)  # the log takes writes without Redis
        redis_processes.append(redis_server(port))

    def kill_the_server_and_start_it_again() -> None:
        server.kill()  # SIGKILL: its projector child stops on its own
        server.start()

    try:
        with load(server.url) as done:
            for fault in (
                flush_redis,
                kill_the_projector_process,
                kill_redis_and_start_it_empty,
                kill_the_server_and_start_it_again,
            ):
                done.wait_for_more(STEP)
                fault()
                done.wait_for_more(STEP)
                assert_readable(api, done)  # recovered before the next fault comes
        assert_exact(api, done, env, tmp_path)
    finally:
        server.close()
        for process in redis_processes:
            process.kill()
            process.wait()
