"""The embedded Redis servers running on this machine, as tests that count them see them."""

from __future__ import annotations

from pathlib import Path

import psutil

from infra.embedded_redis import socket_path


def servers_on(data_dir: Path) -> list[str]:
    """The command lines of the processes listening on the data directory's socket (Valkey
    names its socket in its process title)."""
    socket = str(socket_path(data_dir))
    lines = []
    for process in psutil.process_iter(["cmdline"]):
        command = " ".join(process.info["cmdline"] or ())  # None when it is gone
        if socket in command:
            lines.append(command)
    return lines
