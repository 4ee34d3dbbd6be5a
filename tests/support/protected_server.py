"""For tests of the protections against real server processes: how a test starts one, and how
many events its database holds."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from harness.server_process import ServerProcess

# Starts `python server.py <command>` with extra environment (the start_server fixture).
StartServer = Callable[..., ServerProcess]


def event_count(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "events.db") as db:
        (count,) = db.execute("SELECT count(*) FROM events").fetchone()
        return int(count)
