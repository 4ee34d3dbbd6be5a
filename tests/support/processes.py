"""The processes running on this machine, as tests that count servers see them."""

from __future__ import annotations

from pathlib import Path


def command_lines() -> list[str]:
    """Every process's command line, its arguments joined by NUL (Linux's /proc)."""
    lines = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(cmdline.read_bytes().decode(errors="replace"))
        except OSError:  # exited meanwhile
            continue
    return lines
