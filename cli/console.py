"""The console the operator commands print to."""

from __future__ import annotations

import os

from rich.console import Console

# Wide enough for a parked event's stream id and reason on one line.
PIPED_WIDTH = 200


def operator_console(min_width: int = 0) -> Console:
    """A terminal's own width, but at least `min_width`: narrower, Rich squeezed `status`'s
    number cells to nothing (in 50 columns they came out blank); wider lines wrap in the
    terminal, whole. Piped (to grep, less, a file) with no COLUMNS set, Rich took 80
    columns and cut tables' ids and reasons to "CannotApp…": as wide as they need."""
    printed = Console()
    if not printed.is_terminal and "COLUMNS" not in os.environ:
        return Console(width=PIPED_WIDTH)
    return printed if printed.width >= min_width else Console(width=min_width)
