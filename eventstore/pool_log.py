"""What SQLAlchemy's pool logs when it gives back a connection the database had ended.

A connection goes back to the pool with a ROLLBACK (its reset). When PostgreSQL ended the
session meanwhile (a restart, a crash, `pg_terminate_backend` between a read and its
return), the ROLLBACK fails: the pool drops the connection and the next checkout opens
a new one, so nothing is lost, but it logged the failure at ERROR with a traceback. An
outside probe counted 15 in `project` processes over a few restarts, and 1-3 ahead of
`rebuild`'s one-line exit; an operator alerting on ERROR was paged for each. Such a
record is one WARNING line here; a reset that fails for any other reason stays an
ERROR.
"""

from __future__ import annotations

import logging

import psycopg


class ResetOfEndedSession(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if record.msg == "Exception during reset or similar" and _session_ended(error):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = "a pooled connection the database had ended was dropped: %s"
            record.args = (str(error).splitlines()[0],)
            record.exc_info = record.exc_text = None
        return True


def _session_ended(error: BaseException | None) -> bool:
    """psycopg's OperationalError: the server ended the session (class 57P: shut down,
    crashed, terminated) or the connection itself failed."""
    return isinstance(error, psycopg.OperationalError)
