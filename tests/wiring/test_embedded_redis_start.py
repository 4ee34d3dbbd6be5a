"""Processes that start at once on one data directory share one embedded Redis."""

from __future__ import annotations

import os
import signal
import threading
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis

from infra.embedded_redis import EmbeddedRedis, running_in, starting_in
from tests.support.processes import servers_on
from tests.support.waiting import until_true
from wiring.redis_clients import embedded

STARTERS = 4


def test_starters_at_once_find_one_redis(tmp_path: Path) -> None:
    """Each used to find none answering and start its own; the last to bind the socket
    took it, and the others' servers ran on, unreachable (`api --workers`, a `seed` run
    beside a starting `serve`). Separate opens of the lock file exclude each other as
    separate processes do."""
    data = tmp_path / "data"
    together = threading.Barrier(STARTERS)
    urls: list[str] = []
    with ExitStack() as stack:

        def start() -> None:
            together.wait()
            urls.append(embedded(stack, data))

        starters = [threading.Thread(target=start) for _ in range(STARTERS)]
        for starter in starters:
            starter.start()
        for starter in starters:
            starter.join(timeout=60)
        assert len(urls) == STARTERS and len(set(urls)) == 1, urls
        assert len(servers_on(data)) == 1, servers_on(data)
        assert redis.Redis.from_url(urls[0]).ping()
    assert servers_on(data) == []


def test_a_restart_uses_the_redis_another_process_started_meanwhile(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The owner's restart would otherwise have bound the socket over the other's."""
    data = tmp_path / "data"
    owner, other = EmbeddedRedis(data), EmbeddedRedis(data)
    with starting_in(data):  # as the other process holds it while it starts
        client = redis.Redis.from_url(owner.start())
        os.kill(int(client.info()["process_id"]), signal.SIGKILL)
        until_true(lambda: running_in(data) is None)
        other.start()
    try:
        until_true(lambda: "using that one" in caplog.text, timeout=30)
        assert len(servers_on(data)) == 1, servers_on(data)
        assert client.ping()
    finally:
        other.close()
        owner.close()
