"""Real server processes for the protection tests: each test names the limits it runs with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.server_process import ServerProcess
from tests.support.protected_server import StartServer


@pytest.fixture
def start_server(redis_url: str, prefix: str, tmp_path: Path) -> Iterator[StartServer]:
    """Starts `python server.py <command>` on this test's prefix and database, rate limits
    on unless the test turns them off; stops every server it started."""
    started: list[ServerProcess] = []

    def start(command: str = "serve", **env: str) -> ServerProcess:
        process = ServerProcess(
            {
                "REDIS_URL": redis_url,
                "INKWELL_PREFIX": prefix,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'events.db'}",
                "INKWELL_DATA_DIR": str(tmp_path),
                "INKWELL_SECRET": "the-security-tests-own-signing-key",
                "INKWELL_RATE_LIMITS": "on",
                **env,
            },
            tmp_path,
            command=command,
        )
        started.append(process)
        return process.start()

    yield start
    for process in started:
        if process.process is not None:
            process.stop()
