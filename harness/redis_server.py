"""A redis-server of a test's own (the embedded one's binary): to kill, restart, count commands."""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from infra.redis_binary import server_binary


def start(
    port: int, replica_of: int | None = None, directory: Path | None = None
) -> subprocess.Popen[bytes]:
    """Starts one that saves no snapshots (a replica of the server on `replica_of`, if
    given); returns once it answers, and for a replica once it is in sync. A primary
    with a replica writes its sync file into `directory`: give it the test's tmp_path."""
    replication = ["--replicaof", "127.0.0.1", str(replica_of)] if replica_of else []
    directory = directory or Path(tempfile.gettempdir())
    process = subprocess.Popen(
        [
            server_binary(),
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


@dataclass
class PrivateRedis:
    """A started server the test may flush, kill and restart empty on the same port."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True)

    def restart_empty(self) -> None:
        self.process.kill()
        self.process.wait()
        self.process = start(self.port, directory=self.directory)
