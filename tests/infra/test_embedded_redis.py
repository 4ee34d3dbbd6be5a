"""The embedded Redis says why it would not start, and waits for a snapshot to load."""

from __future__ import annotations

import logging
import os
import shlex
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from infra import embedded_redis
from infra.embedded_redis import EmbeddedRedis, EmbeddedRedisError
from infra.redis_binary import server_binary
from tests.support.processes import servers_on
from tests.support.waiting import until_true

KEYS = 20_000


def test_a_damaged_snapshot_is_named_in_the_error(tmp_path: Path) -> None:
    """Redis writes its reasons to its log; the error quotes them and says where it is,
    for the first start and for the restarts after it died (docs/operations.md)."""
    (tmp_path / "redis.rdb").write_bytes(b"not a snapshot at all")
    with pytest.raises(EmbeddedRedisError) as refused:
        EmbeddedRedis(tmp_path).start()
    message = str(refused.value)
    assert "exited with code 1" in message
    assert "Wrong signature trying to load DB from file" in message
    assert f"its log: {tmp_path.resolve() / 'redis.log'}" in message


SlowLoading = Callable[[int], None]


@pytest.fixture
def slow_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SlowLoading:
    """From the call on, the embedded Redis loads its snapshot at the given µs a key
    (Valkey's key-load-delay, an option for its own tests) and answers LOADING meanwhile,
    as it does while loading a snapshot of gigabytes; and STARTUP_SECONDS is 0.5 s."""

    def slow(microseconds_a_key: int) -> None:
        wrapper = tmp_path / "slow-loading-valkey"
        wrapper.write_text(
            f'#!/bin/sh\nexec {shlex.quote(server_binary())} "$@" '
            f"--key-load-delay {microseconds_a_key} "
            "--loading-process-events-interval-bytes 1024\n"
        )
        wrapper.chmod(0o755)
        monkeypatch.setattr(embedded_redis, "server_binary", lambda: str(wrapper))
        monkeypatch.setattr(embedded_redis, "STARTUP_SECONDS", 0.5)

    return slow


def fill(client: redis.Redis) -> None:
    with client.pipeline(transaction=False) as pipe:
        for number in range(KEYS):
            pipe.set(f"key:{number}", "value")
        pipe.execute()
    client.save()


def test_a_first_start_waits_for_a_snapshot_longer_to_load_than_startup_allows(
    tmp_path: Path, slow_loading: SlowLoading, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    with EmbeddedRedis(data) as url:
        fill(redis.Redis.from_url(url))
    slow_loading(100)  # 2 s to load, four times STARTUP_SECONDS
    with caplog.at_level(logging.WARNING, "infra.embedded_redis"), EmbeddedRedis(data) as url:
        assert redis.Redis.from_url(url).dbsize() == KEYS
    assert "the embedded Redis is loading its snapshot" in caplog.text
    assert "MB)" in caplog.text


def test_a_restart_waits_for_its_snapshot_to_load(
    tmp_path: Path, slow_loading: SlowLoading, caplog: pytest.LogCaptureFixture
) -> None:
    """Before, each restart killed the server half-way through loading and tried again:
    a snapshot longer to load than STARTUP_SECONDS never came back."""
    slow_loading(100)
    with (
        caplog.at_level(logging.WARNING, "infra.embedded_redis"),
        EmbeddedRedis(tmp_path / "data") as url,
    ):
        client = redis.Redis.from_url(url)
        fill(client)
        os.kill(int(client.info()["process_id"]), signal.SIGKILL)
        until_true(lambda: "is back after" in caplog.text, timeout=60)
        assert redis.Redis.from_url(url).dbsize() == KEYS
    assert "is loading its snapshot" in caplog.text
    assert "did not start again" not in caplog.text


def test_close_stops_a_restart_that_is_loading(tmp_path: Path, slow_loading: SlowLoading) -> None:
    slow_loading(10_000)  # 200 s to load
    server = EmbeddedRedis(tmp_path / "data")
    client = redis.Redis.from_url(server.start())
    fill(client)
    os.kill(int(client.info()["process_id"]), signal.SIGKILL)
    until_true(lambda: _answers_loading(client), timeout=30)
    closing = threading.Thread(target=server.close)
    closing.start()
    closing.join(timeout=60)
    assert not closing.is_alive(), "close() waited for the snapshot to load"
    with pytest.raises(redis.ConnectionError):
        client.ping()


def _answers_loading(client: redis.Redis) -> bool:
    try:
        client.ping()
    except redis.BusyLoadingError:
        return True
    except redis.ConnectionError:
        return False
    return False


def test_ctrl_c_while_a_first_start_loads_stops_the_server_it_started(
    tmp_path: Path, slow_loading: SlowLoading
) -> None:
    data = tmp_path / "data"
    with EmbeddedRedis(data) as url:
        fill(redis.Redis.from_url(url))
    slow_loading(10_000)  # 200 s to load
    # Ctrl-C as a terminal's shell leaves it, whatever handler an earlier test left.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    interrupt = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    interrupt.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            EmbeddedRedis(data).start()
    finally:
        interrupt.cancel()  # an interrupt after the test would stop the whole run
        signal.signal(signal.SIGINT, previous)
    until_true(lambda: not servers_on(data), timeout=30)


def test_a_restart_says_whether_it_loads_a_snapshot_or_starts_empty(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Killed before its first snapshot, it said it started again "from its last snapshot"
    and came back empty (an outside probe)."""
    with (
        caplog.at_level(logging.WARNING, "infra.embedded_redis"),
        EmbeddedRedis(tmp_path / "data") as url,
    ):
        client = redis.Redis.from_url(url)
        client.set("k", "v")
        os.kill(int(client.info()["process_id"]), signal.SIGKILL)
        until_true(lambda: "is back after" in caplog.text, timeout=30)
        assert "starting it again empty: no snapshot was saved yet" in caplog.text
        client = redis.Redis.from_url(url)
        assert client.dbsize() == 0
        client.set("k", "v")
        client.save()
        os.kill(int(client.info()["process_id"]), signal.SIGKILL)
        until_true(lambda: caplog.text.count("is back after") == 2, timeout=30)
        assert "starting it again from its last snapshot" in caplog.text
        assert redis.Redis.from_url(url).get("k") == b"v"
