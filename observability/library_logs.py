"""What other libraries log, retold: the filters the logging config (infra/settings.py)
puts on strawberry's, uvicorn's and SQLAlchemy's loggers.

They live here, apart from the code whose behaviour they describe, because every
process applies the logging config first and `dictConfig` imports each filter's
module. From schema/view.py, wiring/websocket_protocol.py and a module that imported
psycopg, that import took the GraphQL schema, uvicorn's WebSocket protocol and the
PostgreSQL driver into every CLI tool and projector process: 0.3 s of their 1.1 s of
start-up CPU.
"""

from __future__ import annotations

import logging
import sys


class ForeignOriginLine(logging.Filter):
    """For strawberry's WebSocket logger: its WARNING for each handshake from an origin not
    allowed told the operator to add the origin to `allowed_origins`, strawberry's name
    for INKWELL_CORS_ORIGINS, and any page could write one a handshake. The refusal has
    its request line (observability/requests.py); this says which setting, at INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Rejected WebSocket connection from origin"):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg = (
                "refused a WebSocket from origin %r to host %r: a page's origin must be "
                "listed in INKWELL_CORS_ORIGINS to connect"
            )
        return True


class FramesNotUtf8(logging.Filter):
    """For uvicorn's `uvicorn.error` logger: a text frame that is not UTF-8 is the client's
    fault, answered with close code 1007, and uvicorn logged it as an ERROR with a
    traceback, once per socket (up to 1,200 a minute from one address, each a false
    alarm). It is kept as one INFO line, without the traceback."""

    MESSAGE = "Invalid UTF-8 sequence received from client."

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == self.MESSAGE:
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info = record.exc_text = None
        return True


class HandshakeQueryHidden(logging.Filter):
    """For `uvicorn.error`: uvicorn logs each handshake's answer with the URL's query string
    (`"WebSocket /graphql?access_token=..." [accepted]`), and a client that puts a token
    or a password there, as some WebSocket clients do for want of headers, had it written
    to the log (an outside probe). The request log writes paths without their query; so
    does this line now."""

    def filter(self, record: logging.LogRecord) -> bool:
        if '"WebSocket %s"' in str(record.msg) and isinstance(record.args, tuple):
            record.args = tuple(
                arg.partition("?")[0] if isinstance(arg, str) and arg.startswith("/") else arg
                for arg in record.args
            )
        return True


class ResetOfEndedSession(logging.Filter):
    """For SQLAlchemy's pool loggers: what the pool logs when it gives back a connection
    the database had ended.

    A connection goes back to the pool with a ROLLBACK (its reset). When PostgreSQL ended the
    session meanwhile (a restart, a crash, `pg_terminate_backend` between a read and its
    return), the ROLLBACK fails: the pool drops the connection and the next checkout opens
    a new one, so nothing is lost, but it logged the failure at ERROR with a traceback. An
    outside probe counted 15 in `project` processes over a few restarts, and 1-3 ahead of
    `rebuild`'s one-line exit; an operator alerting on ERROR was paged for each. Such a
    record is one WARNING line here; a reset that fails for any other reason stays an
    ERROR."""

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
    crashed, terminated) or the connection itself failed. psycopg is looked up, not
    imported: a process that never loaded it (every one on SQLite) has no such error."""
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(error, psycopg.OperationalError)
