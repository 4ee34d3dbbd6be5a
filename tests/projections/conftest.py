"""Fixtures for read-side tests: a private Redis to stop and restart (helpers that send
commands and wait for projections are in tests/support/in_process.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import redis_server
from harness.net import free_port
from harness.redis_server import PrivateRedis


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    port = free_port()
    server = PrivateRedis(port, tmp_path, redis_server.start(port, directory=tmp_path))
    yield server
    server.process.kill()
    server.process.wait()
