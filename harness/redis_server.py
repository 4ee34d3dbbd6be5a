"""A redis-server of a test's own (the embedded one's binary): to kill, restart, count commands."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from harness.net import free_port
from infra.lifecycle import Lifecycle
from infra.redis_binary import server_binary


def start(
    port: int,
    replica_of: int | None = None,
    directory: Path | None = None,
    binary: str | None = None,
) -> subprocess.Popen[bytes]:
    """Starts one that saves no snapshots (a replica of the server on `replica_of`, if
    given); returns once it answers, and for a replica once it is in sync. A primary
    with a replica writes its sync file into `directory`: give it the test's tmp_path.
    `binary` is the embedded one's unless given."""
    replication = ["--replicaof", "127.0.0.1", str(replica_of)] if replica_of else []
    directory = directory or Path(tempfile.gettempdir())
    process = subprocess.Popen(
        [
            binary or server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(directory),
            *replication,
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()  # answers once it listens
            if not replica_of or client.info("replication")["master_link_status"] == "up":
                break
        except redis.ConnectionError:
            pass
        assert time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.02)
    client.close()
    return process


class PrivateRedis(Lifecycle["PrivateRedis"]):
    """A server of the test's own on a free port, that it may flush, stop and restart
    (empty, or with its data) under a running Inkwell, and ask what it ran."""

    def __init__(self, directory: Path, binary: str | None = None) -> None:
        self.port = free_port()
        self.directory = directory
        self.binary = binary
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True)

    def start(self) -> PrivateRedis:
        self.process = start(self.port, directory=self.directory, binary=self.binary)
        return self

    def kill(self) -> None:
        """SIGKILL: it saves nothing, so the next start() is empty."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.process = None

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and nothing answers, as in a partition."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def restart_empty(self) -> None:
        self.kill()
        self.start()

    def stop_keeping_data(self) -> None:
        """SHUTDOWN SAVE: the next start() loads the data back from its dump file."""
        assert self.process is not None
        # It closes the connection as it goes, as it should.
        with self.client() as client, contextlib.suppress(redis.ConnectionError):
            client.shutdown(save=True)
        self.process.wait(timeout=30)
        self.process = None

    def flush(self) -> None:
        with self.client() as client:
            client.flushall()

    def calls(self, command: str) -> int:
        """How many times the server ran `command` since it started."""
        with self.client() as client:
            stats = client.info("commandstats").get(f"cmdstat_{command.lower()}")
        return int(stats["calls"]) if stats else 0

    def close(self) -> None:
        if self.process is not None:
            self.kill()
