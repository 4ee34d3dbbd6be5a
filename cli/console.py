"""The console the operator commands print to."""

from __future__ import annotations

import os

from rich.console import Console

# Wide enough for a parked event's stream id and reason on one line.
PIPED_WIDTH = 200


def operator_console() -> Console:
    """A terminal's own width; piped (to grep, less, a file) with no COLUMNS set, Rich took
    80 columns and cut tables' ids and reasons to "CannotApp…": as wide as they need."""
    printed = Console()
    if printed.is_terminal or "COLUMNS" in os.environ:
        return printed
    return Console(width=PIPED_WIDTH)
