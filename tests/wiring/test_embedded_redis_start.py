"""Processes that start at once on one data directory share one embedded Redis."""

from __future__ import annotations

import os
import signal
import threading
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis

from infra.embedded_redis import (
    WATCH_SECONDS,
    EmbeddedRedis,
    nothing_listens,
    running_in,
    starting_in,
)
from tests.support.processes import servers_on
from tests.support.waiting import until_true
from wiring.redis_clients import embedded

STARTERS = 4


def test_starters_at_once_find_one_redis(tmp_path: Path) -> None:
    """Each used to find none answering and start its own; the last to bind the socket
    took it, and the others' servers ran on, unreachable (`api --workers`, a `seed` run
    beside a starting `serve`). Separate opens of the lock file exclude each other as
    separate processes do.

    The starters live until the servers are closed: a server dies with the thread that
    started it (infra/embedded_redis.py's _die_with_parent), and a starter that ended at
    once had it stopped and started again under the count (0 servers, once in a CI run)."""
    data = tmp_path / "data"
    together = threading.Barrier(STARTERS)
    checked = threading.Event()
    urls: list[str] = []
    stack = ExitStack()

    def start() -> None:
        together.wait()
        urls.append(embedded(stack, data))
        checked.wait(60)

    starters = [threading.Thread(target=start) for _ in range(STARTERS)]
    try:
        with stack:
            for starter in starters:
                starter.start()
            until_true(lambda: len(urls) == STARTERS, timeout=60)
            assert len(set(urls)) == 1, urls
            assert len(servers_on(data)) == 1, servers_on(data)
            assert redis.Redis.from_url(urls[0]).ping()
        assert servers_on(data) == []
    finally:
        checked.set()
        for starter in starters:
            starter.join(timeout=60)


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


def test_a_process_using_anothers_redis_starts_it_again_once_its_owner_stopped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A second `serve` on the data directory ran on without Redis for good once the first
    stopped (an outside probe): the first process to notice starts it from its snapshot."""
    data = tmp_path / "data"
    owner, user = EmbeddedRedis(data), EmbeddedRedis(data)
    with starting_in(data):
        url = owner.start()
    with starting_in(data):
        assert user.start() == url  # used, not started
    try:
        assert len(servers_on(data)) == 1
        redis.Redis.from_url(url).set("kept", "yes")
        owner.close()  # saves its snapshot, then exits
        until_true(lambda: running_in(data) is not None, timeout=30)
        assert "starting it here" in caplog.text
        assert len(servers_on(data)) == 1, servers_on(data)
        assert redis.Redis.from_url(url).get("kept") == b"yes"
    finally:
        user.close()
    assert servers_on(data) == []


def test_a_redis_that_does_not_answer_but_listens_is_not_started_over(tmp_path: Path) -> None:
    """Frozen (SIGSTOP), it still accepts connections: another started over its socket
    would leave two servers on one snapshot."""
    data = tmp_path / "data"
    owner, user = EmbeddedRedis(data), EmbeddedRedis(data)
    with starting_in(data):
        client = redis.Redis.from_url(owner.start())
    with starting_in(data):
        user.start()
    frozen = int(client.info()["process_id"])
    os.kill(frozen, signal.SIGSTOP)
    try:
        assert not nothing_listens(data)
        threading.Event().wait(3 * WATCH_SECONDS)
        assert len(servers_on(data)) == 1, servers_on(data)
    finally:
        os.kill(frozen, signal.SIGCONT)
        user.close()
        owner.close()
