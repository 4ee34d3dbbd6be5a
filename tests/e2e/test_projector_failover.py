"""Two projector processes: one runs each projection, the other stands by and takes
over when the first is killed or paused; the read models stay exact."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import redis

from harness.server_process import ServerProcess
from projections.keyspace.keys import Keys
from tests.support import operations as ops
from tests.support.api import http_api
from tests.support.waiting import until_true
from tests.support.write_load import assert_exact, load
from wiring.bootstrap import PROJECTIONS


def lease_holders(client: redis.Redis, prefix: str) -> dict[str, str]:
    return {
        projection.name: str(client.get(Keys(prefix).lease(projection.name)))
        for projection in PROJECTIONS
    }


def wait_until_standing_by(projector: ServerProcess, timeout: float = 30) -> None:
    """Until each of the projector's runners was refused its projection's lease."""
    deadline = time.monotonic() + timeout
    while True:
        log = projector.log.read_text()
        waiting = [
            projection.name
            for projection in PROJECTIONS
            if f"projection {projection.name}: another process runs it; standing by" not in log
        ]
        if not waiting:
            return
        assert time.monotonic() < deadline, f"{waiting} never stood by:\n{log}"
        time.sleep(0.05)


def wait_until_renewed(client: redis.Redis, prefix: str, timeout: float = 10) -> None:
    """Until every lease was renewed (its time to live went up) since this was called."""
    keys = [Keys(prefix).lease(projection.name) for projection in PROJECTIONS]
    lowest = {key: int(client.pttl(key)) for key in keys}
    deadline = time.monotonic() + timeout
    while lowest:
        for key in list(lowest):
            left = int(client.pttl(key))
            if left > lowest[key]:
                del lowest[key]
            else:
                lowest[key] = left
        assert time.monotonic() < deadline, f"never renewed: {sorted(lowest)}"
        time.sleep(0.02)


def test_a_standby_projector_takes_over_from_a_killed_one(
    server_env: dict[str, str], tmp_path: Path, prefix: str
) -> None:
    env = {**server_env, "INKWELL_LEASE_SECONDS": "1"}
    api_server = ServerProcess(env, tmp_path, command="api").start()
    first = ServerProcess(env, tmp_path, command="project").start(wait=False)
    client = redis.Redis.from_url(env["REDIS_URL"], decode_responses=True)
    second = None
    try:
        api = http_api(api_server)
        ann = api.register("Ann")  # waits for the read models: the first runs them
        assert first.process is not None
        assert all(
            f":{first.process.pid}:" in owner for owner in lease_holders(client, prefix).values()
        )

        second = ServerProcess(env, tmp_path, command="project").start(wait=False)
        wait_until_standing_by(second)
        wait_until_renewed(client, prefix)
        assert all(
            f":{first.process.pid}:" in owner for owner in lease_holders(client, prefix).values()
        )

        first.kill()
        published = [api.published_post(ann, f"After the kill {i}")["id"] for i in range(5)]
        assert second.process is not None
        assert all(
            f":{second.process.pid}:" in owner for owner in lease_holders(client, prefix).values()
        )
        recent = api.ok(ops.RECENT, {"first": 10})["recentPosts"]
        assert [edge["node"]["id"] for edge in recent["edges"]] == list(reversed(published))
        assert api.ok(ops.USER, {"id": ann.id})["user"]["publishedPostCount"] == 5
    finally:
        client.close()
        api_server.stop()
        for projector in (first, second):
            if projector is not None and projector.process is not None:
                projector.stop()


def test_a_paused_projector_stops_following_once_resumed_and_can_take_over_again(
    server_env: dict[str, str], tmp_path: Path, prefix: str
) -> None:
    """Each lease holder in turn is paused under load (SIGSTOP: a frozen VM or container)
    and resumed once the other has taken over. A resumed one went on following beside
    the new holder: each took the other's unconfirmed batches for crashes and rebuilt
    every projection, 23 times in 10 s; and a follow whose cancellation was lost ran on
    without the lease for good, so its process never took the projections back. Now a
    resumed one stops at once, and takes over again when the other is paused."""
    env = {**server_env, "INKWELL_LEASE_SECONDS": "1"}
    api_server = ServerProcess(env, tmp_path, command="api").start()
    first = ServerProcess(env, tmp_path, command="project").start(wait=False)
    second = ServerProcess(env, tmp_path, command="project")
    client = redis.Redis.from_url(env["REDIS_URL"], decode_responses=True)
    try:
        api = http_api(api_server)
        api.register("Ann")  # waits for the read models
        _wait_until_held_by(client, prefix, first)
        second.start(wait=False)
        wait_until_standing_by(second)
        with load(api_server.url) as done:
            for paused, standby in ((first, second), (second, first), (first, second)):
                done.wait_for_more(20)
                assert paused.process is not None
                paused.process.send_signal(signal.SIGSTOP)
                _wait_until_held_by(client, prefix, standby)
                done.wait_for_more(20)
                paused.process.send_signal(signal.SIGCONT)
        assert_exact(api, done, env, tmp_path)
    finally:
        client.close()
        api_server.stop()
        for projector in (first, second):
            if projector.process is not None:
                projector.process.send_signal(signal.SIGCONT)
                projector.stop()
    # A batch cut by a pause between its EXEC and its confirmation has its projection
    # rebuilt by the next holder, once: at most three times each here.
    rebuilds = (first.log.read_text() + second.log.read_text()).count("rebuilding them")
    assert rebuilds <= 3 * len(PROJECTIONS), rebuilds


def _wait_until_held_by(
    client: redis.Redis, prefix: str, projector: ServerProcess, timeout: float = 15
) -> None:
    assert projector.process is not None
    mark = f":{projector.process.pid}:"
    until_true(
        lambda: all(mark in owner for owner in lease_holders(client, prefix).values()), timeout
    )
