"""A Redis still loading its data when a command starts: waited for and said once.

After a restart Redis reads its snapshot before it serves, answering LOADING meanwhile,
for minutes when the data is large. `serve` (and every command) pinged REDIS_URL at
start and ended with "does not answer", and `status` beside a server whose embedded
Redis was loading said "no Redis to read" though one was there."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from harness.net import free_port
from harness.redis_server import start
from infra.embedded_redis import socket_path
from infra.redis_binary import server_binary
from infra.settings import database_url_in
from tests.support.cli import run_cli
from tests.support.log import make_log

KEYS = 60_000  # read at about 60-90 µs each with the delay below: several seconds


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    """A directory holding a snapshot of KEYS keys."""
    directory = tmp_path / "redis"
    directory.mkdir()
    port = free_port()
    process = start(port, directory=directory)
    with redis.Redis(port=port) as client:
        with client.pipeline(transaction=False) as pipe:
            for key in range(KEYS):
                pipe.set(f"filler:{key}", "x" * 50)
            pipe.execute()
        client.save()
    process.kill()
    process.wait()
    return directory


@contextmanager
def _loading(directory: Path, *listen: str) -> Iterator[redis.Redis]:
    """A redis-server reading the snapshot slowly, once it answers LOADING; killed after."""
    process = subprocess.Popen(
        [server_binary(), *listen, "--dir", str(directory), "--save", "",
         "--key-load-delay", "1", "--loading-process-events-interval-bytes", "8192"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    port = int(listen[1])
    once = Retry(NoBackoff(), 0)  # redis-py's default retries wait out the loading itself
    client = (
        redis.Redis(port=port, retry=once)
        if port
        else redis.Redis(unix_socket_path=listen[-1], retry=once)
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                pytest.fail("the snapshot loaded before the command could start")
            except redis.BusyLoadingError:
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.01)
        yield client
    finally:
        client.close()
        process.kill()
        process.wait()


def _waited(ran: subprocess.CompletedProcess[str], client: redis.Redis) -> None:
    assert ran.returncode != 2, ran.stderr
    assert "is loading its data into memory; waiting" in ran.stderr, ran.stderr
    assert ran.stderr.count("loading its data") == 1, ran.stderr
    assert "Projections" in ran.stdout, ran.stdout  # the status table
    assert client.ping()  # loaded by the time the command read it


def test_a_command_waits_for_redis_url_to_load_its_data(tmp_path: Path, snapshot: Path) -> None:
    port = free_port()
    with _loading(snapshot, "--port", str(port), "--bind", "127.0.0.1") as client:
        env = {"REDIS_URL": f"redis://127.0.0.1:{port}/0", "INKWELL_DATA_DIR": str(tmp_path)}
        make_log(database_url_in(env))
        _waited(run_cli(env, tmp_path, "status"), client)


def test_status_waits_for_the_servers_embedded_redis_to_load_its_data(
    tmp_path: Path, snapshot: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    listen = ("--port", "0", "--unixsocket", str(socket_path(data_dir)))
    with _loading(snapshot, *listen) as client:
        env = {"INKWELL_DATA_DIR": str(data_dir), "REDIS_URL": ""}  # empty: unset
        make_log(database_url_in(env))
        _waited(run_cli(env, tmp_path, "status"), client)
