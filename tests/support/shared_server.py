"""One real server process shared by a test module: its own database, key prefix and data
directory, removed afterwards. For modules whose tests only read what they themselves wrote."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from harness.redis_keys import forget
from harness.server_process import ServerProcess


@contextmanager
def shared_server(
    redis_url: str, directory: Path, env: Mapping[str, str | None] = {}
) -> Iterator[ServerProcess]:
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    server_env = {
        "DATABASE_URL": f"sqlite:///{directory / 'events.db'}",
        "REDIS_URL": redis_url,
        "INKWELL_PREFIX": prefix,
        "INKWELL_DATA_DIR": str(directory / "data"),
        **env,
    }
    try:
        with ServerProcess(server_env, directory) as server:
            yield server
    finally:
        forget(redis_url, prefix)
