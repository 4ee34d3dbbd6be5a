"""Whether a SQLite event log's files are still the ones the writer has open, as it left them.

A connection keeps the files it opened. Delete or replace the database, its write-ahead
log or its shared-memory index under a running server (an operator's `rm`, a backup
copied over it), or truncate one, and the writer's commits go on into files that no
longer hold them: acknowledged, then gone at the next start. Outside probes saw it each
way: 75 mutations answered with success after `rm inkwell.db-wal`; 67-97 after
`truncate -s 0` of the log or the database; 63-64 after `rm inkwell.db-shm` and a
checkpoint by another process, which built a new index and restarted the log under the
writer. So after each commit the writer looks, at a few syscalls against the disk flush
every commit costs:

- the three paths name the files that were there when its connection first committed
  (device and inode, by `stat`);
- the database file has not shrunk (nothing here vacuums it);
- the write-ahead log starts with its magic number, or is empty (another process's
  `wal_checkpoint(TRUNCATE)`, which SQLite allows): truncated to nothing under a writer
  that goes on appending, it starts with zeros. It is read through a descriptor held
  open for the purpose: SQLite locks the database and the index, never the log, and
  closing a descriptor of a locked file would drop the process's locks on it (POSIX).

SQLite itself deletes these files only when the last connection closes; the writer holds
its connection, so a change was made by someone else.

The write-ahead log's own identity is looked up only when its directory may have changed.
Looking at the log itself between two commits made the second one slower: on this
project's machines (Linux 6.18, ext4), a `stat` or `fstat` of the log after each commit
took a commit of one event from 116-182 µs to 158-244 µs, about 45 µs (the same look at
the database, the index or the directory: no change; reading the log's first bytes: no
change). Deleting, renaming or creating an entry sets its directory's modification time,
so while the directory's is the one seen at the last look, and was already
SETTLED_SECONDS old then, the log's entry is the one it was. A directory changed lately
(SQLite made the log, the embedded Redis saved its dump beside it) has the log looked
up at every commit until it settles.

Not seen: the log truncated to a length that keeps its header (`truncate -s 4096`).
Comparing its last bytes from one commit to the next refused writes in a plain
benchmark: once a checkpoint lets the writer restart the log, it writes over the old
frames from the start and the file keeps its length, so the end of the file is not the
end of the log. Only the index (`-shm`) says where that is, and it is SQLite's to lock.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

# A file by device and inode; None where no file is.
Identity = tuple[int, int] | None
# The first four bytes of a write-ahead log (https://sqlite.org/fileformat.html#walformat).
WAL_MAGIC = (bytes.fromhex("377f0682"), bytes.fromhex("377f0683"))
# How old a directory's modification time must be for a later look that finds the same to
# prove that nothing in it changed in between: far longer than the clock tick file times
# are taken at (a few ms), so a change after the look cannot be stamped with the same.
SETTLED_SECONDS = 1.0


class LogFilesReplaced(Exception):
    """The log's files were deleted, replaced or truncated under the writer: what it
    commits now is lost at the next start, so it commits nothing more until the server
    restarts. The API answers it as an outage (UNAVAILABLE); the last commit, taken after
    the change, is not acknowledged either."""


class LogFiles:
    def __init__(self, database: Path) -> None:
        self._database = str(database)
        self._wal = f"{database}-wal"
        self._paths = (self._database, self._wal, f"{database}-shm")
        self._directory = os.path.dirname(self._wal) or "."
        self._opened: tuple[Identity, ...] | None = None
        self._size = 0  # the database file's, at the last look
        self._wal_fd: int | None = None
        # The directory's device, inode and modification time at the last look, when that
        # time was settled then; None otherwise (the log is then looked up by its path).
        self._settled: tuple[int, int, int] | None = None

    @property
    def known(self) -> bool:
        return self._opened is not None

    def opened(self) -> None:
        """Takes the files now at the paths as those the writer's connection has open:
        after its first commit, when the write-ahead log and the index exist for certain."""
        self.forget()
        try:
            self._wal_fd = os.open(self._wal, os.O_RDONLY)
        except FileNotFoundError:  # gone already: looked at again after the next commit
            return
        stats = [_stat(path) for path in self._paths]
        self._opened = tuple(_identity(stat) for stat in stats)
        self._size = stats[0].st_size if stats[0] is not None else 0

    def forget(self) -> None:
        """The connection was closed: the next one opens whatever is there then."""
        self._opened = None
        self._settled = None
        if self._wal_fd is not None:
            os.close(self._wal_fd)
            self._wal_fd = None

    def changed(self) -> str | None:
        """What happened to the files since `opened`, if anything did."""
        if self._opened is None or self._wal_fd is None:
            return None
        # The log's entry, as it was, when its directory has not changed (see the docstring).
        wal_known = self._entries_unchanged()
        stats = {path: _stat(path) for path in self._paths if not (wal_known and path == self._wal)}
        for path, before in zip(self._paths, self._opened, strict=True):
            if path in stats and _identity(stat := stats[path]) != before:
                how = "deleted" if stat is None else "replaced"
                return f"{path} was {how} under the running server: restart it"
        database = stats[self._database]
        size = database.st_size if database is not None else 0
        if size < self._size:
            return f"{self._database} was truncated under the running server: restart it"
        self._size = size
        start = os.pread(self._wal_fd, 4, 0)
        if start and start not in WAL_MAGIC:
            return f"{self._wal} was truncated or overwritten under the running server: restart it"
        return None

    def _entries_unchanged(self) -> bool:
        """Whether no entry of the log's directory can have changed since the last look: the
        directory's modification time is the one seen then, and was settled then."""
        try:
            stat = os.stat(self._directory)
        except FileNotFoundError:
            self._settled = None
            return False
        seen = (stat.st_dev, stat.st_ino, stat.st_mtime_ns)
        unchanged = seen == self._settled
        settled = stat.st_mtime_ns < (time.time() - SETTLED_SECONDS) * 1e9
        self._settled = seen if settled else None
        return unchanged


def _stat(path: str) -> os.stat_result | None:
    """The file's; None where no file is."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _identity(stat: os.stat_result | None) -> Identity:
    return None if stat is None else (stat.st_dev, stat.st_ino)
