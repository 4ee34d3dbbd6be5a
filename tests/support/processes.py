"""The processes running on this machine, as tests that count servers see them."""

from __future__ import annotations

import psutil


def command_lines() -> list[str]:
    """Every process's command line, its arguments joined by spaces."""
    lines = []
    for process in psutil.process_iter(["cmdline"]):
        if command := process.info["cmdline"]:  # None or empty when it is gone or a kernel's
            lines.append(" ".join(command))
    return lines
