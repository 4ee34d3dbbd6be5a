"""A SQLite log whose files are deleted or replaced under a running writer: its commits
would go into files no longer on disk, acknowledged and lost at the next start, so the
writer refuses them, and every later one, until the process restarts."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest

from eventstore import log_files
from eventstore.engines import open_engines
from eventstore.log_files import LogFilesReplaced
from eventstore.log_reader import LogReader
from eventstore.store import SqlEventStore
from tests.support.appends import request
from tests.support.stores import opened_store


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "events.db"


@pytest.fixture
async def store(database: Path) -> AsyncIterator[SqlEventStore]:
    async with opened_store(f"sqlite:///{database}") as opened:
        yield opened


async def positions_on_disk(database: Path, most: int = 100) -> list[int]:
    """What a fresh start finds in the log."""
    engines = open_engines(f"sqlite:///{database}")
    try:
        return [event.position for event in await LogReader(engines.reader).read_all(0, most)]
    finally:
        engines.dispose()


@pytest.mark.parametrize("suffix", ["-wal", "", "-shm"])
async def test_a_deleted_file_refuses_every_later_commit(
    store: SqlEventStore, database: Path, suffix: str
) -> None:
    await store.append(request("user-1", 0))
    await store.append(request("user-2", 0))  # the files' identities are taken by now
    os.unlink(f"{database}{suffix}")
    for stream in ("user-3", "user-4"):
        with pytest.raises(LogFilesReplaced, match="was deleted under the running server"):
            await store.append(request(stream, 0))
    reason = store.recent_commit_failure(0)  # however old: it holds until a restart
    assert reason is not None and "deleted" in reason


async def test_a_file_copied_over_the_log_refuses_the_commit(
    store: SqlEventStore, database: Path, tmp_path: Path
) -> None:
    await store.append(request("user-1", 0))
    await store.append(request("user-2", 0))
    copy = tmp_path / "copy.db"
    shutil.copyfile(database, copy)
    os.replace(copy, database)  # a backup restored over the running server's log
    with pytest.raises(LogFilesReplaced, match="was replaced under the running server"):
        await store.append(request("user-3", 0))


async def test_a_log_left_alone_keeps_committing_past_its_restarts(
    store: SqlEventStore, database: Path
) -> None:
    """SQLite checkpoints the log every 1,000 pages and then writes it again from the
    start, over its old frames, in the same file: a check of the log's last bytes took
    that for a truncation, and refused every write of a plain benchmark."""
    wal = Path(f"{database}-wal")

    def checkpoints() -> bytes:
        return wal.read_bytes()[12:16]  # the header's checkpoint count

    await store.append(request("user-0", 0))
    first, n = checkpoints(), 1
    while checkpoints() == first or n < 1_200:  # restarted, then written past its old end
        await store.append(request(f"user-{n}", 0))
        n += 1
        assert n < 10_000, "the log was never restarted"
    assert store.recent_commit_failure(30) is None
    assert len(await positions_on_disk(database, n)) == n


@pytest.mark.parametrize("suffix", ["-wal", ""])
async def test_a_file_truncated_under_the_writer_refuses_the_commit(
    store: SqlEventStore, database: Path, suffix: str
) -> None:
    """`truncate -s 0` keeps the file: 67-97 writes acknowledged after it were gone at the
    next start (a re-check probe). The log then starts with zeros, and the database
    shrank."""
    for n in range(3):
        await store.append(request(f"user-{n}", 0))
    if not suffix:  # the database holds pages once a checkpoint copied them there
        with closing(sqlite3.connect(database)) as other:
            other.execute("PRAGMA wal_checkpoint(PASSIVE)")
    os.truncate(f"{database}{suffix}", 0)
    with pytest.raises(LogFilesReplaced, match="truncated"):
        await store.append(request("user-3", 0))


async def test_another_process_checkpointing_the_log_is_no_change(
    store: SqlEventStore, database: Path
) -> None:
    """`wal_checkpoint(TRUNCATE)` empties the log, as SQLite allows any connection to."""
    for n in range(3):
        await store.append(request(f"user-{n}", 0))
        with closing(sqlite3.connect(database)) as other:
            other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    await store.append(request("user-3", 0))
    assert store.recent_commit_failure(30) is None
    assert len(await positions_on_disk(database)) == 4


@pytest.fixture
def quick_to_settle(monkeypatch: pytest.MonkeyPatch) -> float:
    """A directory settles in 0.2 s instead of a second, so that a test can wait it out."""
    monkeypatch.setattr(log_files, "SETTLED_SECONDS", 0.2)
    return 0.2


async def settled_commits(store: SqlEventStore, seconds: float) -> None:
    """Commits once the log's directory has not changed for `seconds`, twice: the first
    look sees it settled, the second finds it as it was and leaves the log's path alone."""
    await store.append(request("user-1", 0))
    await asyncio.sleep(seconds + 0.1)
    await store.append(request("user-2", 0))
    await store.append(request("user-3", 0))


@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_a_log_changed_once_its_directory_settled_refuses_the_commit(
    store: SqlEventStore, database: Path, tmp_path: Path, quick_to_settle: float, how: str
) -> None:
    """The log's own path is not looked up while its directory is unchanged; a deletion or
    a rename into it changes the directory, and the log is looked up again."""
    await settled_commits(store, quick_to_settle)
    wal = Path(f"{database}-wal")
    if how == "deleted":
        wal.unlink()
    else:
        copy = tmp_path / "copy-wal"
        shutil.copyfile(wal, copy)
        os.replace(copy, wal)
    with pytest.raises(LogFilesReplaced, match=f"-wal was {how} under the running server"):
        await store.append(request("user-4", 0))


async def test_the_log_is_not_looked_up_while_its_directory_is_unchanged(
    store: SqlEventStore, database: Path, quick_to_settle: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A look at the log between two commits slows the second (eventstore/log_files.py)."""
    looked_up: list[str] = []
    stat = os.stat

    def recorded(path: str) -> os.stat_result:
        looked_up.append(os.fspath(path))
        return stat(path)

    await settled_commits(store, quick_to_settle)
    monkeypatch.setattr(os, "stat", recorded)
    for n in range(5, 10):
        await store.append(request(f"user-{n}", 0))
    monkeypatch.undo()
    assert f"{database}-wal" not in looked_up
    assert looked_up.count(str(database)) == 5  # the database and the index still are
    assert looked_up.count(f"{database}-shm") == 5
