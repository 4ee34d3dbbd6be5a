"""A test's own redis-server that it may flush, stop and restart under a running Inkwell."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import redis

from harness.net import free_port
from harness.redis_server import start
from infra.lifecycle import Lifecycle


class PrivateRedis(Lifecycle["PrivateRedis"]):
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True)

    def start(self) -> PrivateRedis:
        self.process = start(self.port, directory=self.directory)
        return self

    def kill(self) -> None:
        """SIGKILL: it saves nothing, so the next start() is empty."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.process = None

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
