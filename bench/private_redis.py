"""A redis-server of the benchmark's own, so that its figures are not those of whatever
else shares the machine's Redis (on a shared machine, other work kept it busy enough
to add tens of milliseconds to single commands)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness import redis_server
from harness.net import free_port


@contextmanager
def private_redis(url: str | None = None) -> Iterator[str]:
    """`url` when given (the benchmark's --redis-url), else a fresh server's, killed after."""
    if url:
        yield url
        return
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="inkwell-bench-redis-") as directory:
        process = redis_server.start(port, directory=Path(directory))
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.kill()
            process.wait()
