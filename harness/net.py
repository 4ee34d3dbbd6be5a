"""A free TCP port on the loopback interface, for servers that tests and benchmarks start."""

from __future__ import annotations

import itertools
import os
import random
import socket
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 20_000  # above the ports services and probes are given by hand


def free_port() -> int:
    """A port nothing listens on, below the kernel's range of ephemeral ports. One the
    kernel picked (bind to port 0) is in that range, and was taken as the source port of
    some outgoing connection before the server bound it: "Address already in use", in a
    CI run with other clients busy on the machine.

    A port is free when picked but taken only when the server binds it, a second or two
    later. So each pytest-xdist worker picks from a slice of its own (two workers once
    picked the same one in that time), and within a process the picks walk the slice
    from a random start rather than draw at random: two random draws for one test, a
    primary and its replica, once came out equal."""
    ephemeral_low = _ephemeral_low()
    if ephemeral_low - LOWEST < 1_000:  # no room below it here: the kernel's pick
        return _bound_port(0)
    low, high = worker_slice(LOWEST, ephemeral_low)
    for _ in range(100):
        port = low + next(_picks) % (high - low)
        try:
            return _bound_port(port)
        except OSError:
            continue
    return _bound_port(0)


_picks = itertools.count(random.randrange(1 << 16))


def worker_slice(low: int, high: int) -> tuple[int, int]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ...
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or count < 2:
        return low, high
    size = (high - low) // count
    start = low + int(worker[2:]) % count * size
    return start, start + size


def _bound_port(port: int) -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))
        return int(probe.getsockname()[1])


def _ephemeral_low() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
