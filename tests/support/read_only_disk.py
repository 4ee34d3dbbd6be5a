"""A SQLite event log on a disk mounted read-only, as an operator's failing disk or a
read-only volume leaves it: readable (its write-ahead log and index are there), and
refusing every write. Mounting needs root; without it the test is skipped."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from eventstore.engines import open_engines


@contextmanager
def read_only_log(tmp_path: Path) -> Iterator[str]:
    """The DATABASE_URL of a log of one migrated database, on a read-only tmpfs."""
    if os.geteuid() != 0:
        pytest.skip("mounting a read-only disk needs root")
    made, disk = tmp_path / "made", tmp_path / "disk"
    made.mkdir()
    disk.mkdir()
    open_engines(f"sqlite:///{made / 'events.db'}").dispose()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        # Copied while a connection holds it: its write-ahead log and index come along,
        # and SQLite reads it from the read-only disk (without them it cannot open it).
        holder = sqlite3.connect(made / "events.db")
        holder.execute("SELECT count(*) FROM events").fetchall()
        for suffix in ("", "-wal", "-shm"):
            shutil.copy(made / f"events.db{suffix}", disk / f"events.db{suffix}")
        holder.close()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        yield f"sqlite:///{disk / 'events.db'}"
    finally:
        subprocess.run(["umount", str(disk)], check=True)
