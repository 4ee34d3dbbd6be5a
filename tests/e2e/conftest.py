"""Environment for real server processes: the test's own database, prefix and signing key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from harness.redis_server import PrivateRedis
from harness.server_process import ServerProcess


@pytest.fixture
def server_env(sqlite_url: str, redis_url: str, prefix: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": sqlite_url,
        "REDIS_URL": redis_url,
        "INKWELL_PREFIX": prefix,
        "INKWELL_DATA_DIR": str(tmp_path / "data"),
    }


@pytest.fixture
def server(server_env: dict[str, str], tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(server_env, tmp_path) as running:
        yield running


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    """HTTP to the test's `server`, or to the one a module shares (its own `server`)."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


@pytest.fixture
def server_on_private_redis(
    server_env: dict[str, str], tmp_path: Path, private_redis: PrivateRedis
) -> Iterator[ServerProcess]:
    """`serve` on a Redis of the test's own, for tests that kill, freeze or starve it; rate
    limits on, as served (they count in Redis, and let requests through without it). Its
    log holds no traceback, its shutdown included."""
    env = {**server_env, "REDIS_URL": private_redis.url, "INKWELL_RATE_LIMITS": None}
    with ServerProcess(env, tmp_path) as running:
        yield running
    log = running.log.read_text()
    assert "Traceback" not in log, log[-3000:]
