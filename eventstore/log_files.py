"""Whether a SQLite event log's files are still the ones the writer has open.

A connection keeps the files it opened. Delete or replace the database or its write-ahead
log under a running server (an operator's `rm`, a backup copied over it) and the writer's
commits go on into files no longer on disk: acknowledged, then gone at the next start. An
outside probe saw 75 mutations answered with success after `rm inkwell.db-wal`, while
/ready already said the log could not be opened. So after each commit the writer compares
the files at the two paths with those there when its connection first committed: a stat
each, against the disk flush every commit costs. SQLite itself only truncates the log
while a connection is open, and deletes it when the last one closes; the writer holds
its connection, so a file that changed was changed by someone else.
"""

from __future__ import annotations

import os
from pathlib import Path

# A file by device and inode; None where no file is.
Identity = tuple[int, int] | None


class LogFilesReplaced(Exception):
    """The log's files were deleted or replaced under the writer: what it commits now
    is lost at the next start, so it commits nothing more until the server restarts.
    The API answers it as an outage (UNAVAILABLE); the last commit, taken after the
    change, is not acknowledged either."""


class LogFiles:
    def __init__(self, database: Path) -> None:
        self._paths = (database, database.with_name(database.name + "-wal"))
        self._opened: tuple[Identity, ...] | None = None

    def opened(self) -> None:
        """Takes the files now at the paths as those the writer's connection has open:
        after its first commit, when the write-ahead log exists for certain."""
        self._opened = self._identities()

    def forget(self) -> None:
        """The connection was closed: the next one opens whatever is there then."""
        self._opened = None

    @property
    def known(self) -> bool:
        return self._opened is not None

    def replaced(self) -> str | None:
        """Which file changed since `opened`, and how, if one did."""
        if self._opened is None:
            return None
        for path, before, now in zip(self._paths, self._opened, self._identities(), strict=True):
            if now != before:
                how = "deleted" if now is None else "replaced"
                return f"{path} was {how} under the running server: restart it"
        return None

    def _identities(self) -> tuple[Identity, ...]:
        return tuple(_identity(path) for path in self._paths)


def _identity(path: Path) -> Identity:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino
