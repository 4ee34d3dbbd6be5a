"""The exceptions that mean a store cannot be reached now, not that the request or the code
was wrong: the API answers them with the code UNAVAILABLE (schema/errors.py), which a
client retries, instead of INTERNAL_SERVER_ERROR.

Redis: a refused or dropped connection, a read past its deadline, a pool with no
connection free, a server still loading its data (BusyLoadingError is a ConnectionError).
SQL: what the driver reports as operational (the server gone, a connection dropped, an
SQLite file locked past its busy timeout, the log's tables missing from a PostgreSQL
schema renamed under the server: eventstore/engines.py, LogTablesMissing) or as the
connection's own failure, a pool
with no connection free, a commit the writer could not confirm or a command's read not
answered in time (a database that stopped answering), and a write the database refused
as read-only (a standby), and a log whose SQLite files were deleted or replaced under
the server (until it restarts).
Error replies (Redis's OOM, a constraint) stay unexpected.
"""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from eventstore.log_files import LogFilesReplaced
from eventstore.reads import ReadUnanswered
from eventstore.writer import CommitUnconfirmed, LogReadOnly

STORE_OUTAGES: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OperationalError,
    InterfaceError,
    PoolTimeout,
    CommitUnconfirmed,
    ReadUnanswered,
    LogReadOnly,
    LogFilesReplaced,
)
