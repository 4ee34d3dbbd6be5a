"""Log lines: JSON when stderr is not a terminal, readable text when it is, with request ids.

Any `extra={...}` fields a caller passes become fields of the line (JSON) or
`key=value` pairs after the message (text), so ids stay greppable either way.

Messages and fields often quote what a client sent (a commandId, a path). Their
control characters are escaped in both formats (a newline becomes the two
characters \\n), so a client can neither forge a log line nor send escape sequences
or bidirectional overrides to an operator's terminal.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TextIO

import orjson

# The request being served by the current task. A ContextVar, not shared state: each
# request's task sees only its own value, and background tasks see none.
REQUEST_ID: ContextVar[str | None] = ContextVar("inkwell_request_id", default=None)

_STANDARD = {
    *vars(logging.LogRecord("", 0, "", 0, "", (), None)),
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's copy of its message with terminal colours
}


# C0 and C1 controls (newlines and ANSI escapes among them), Unicode line separators,
# bidirectional embeddings, overrides and isolates, and lone surrogates (a client may send
# one escaped in JSON: orjson cannot write it).
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def escaped(text: str) -> str:
    """The text with every unprintable character written as its Python escape."""
    return UNPRINTABLE.sub(lambda found: found.group().encode("unicode_escape").decode(), text)


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The request id and whatever the caller passed in `extra`."""
    fields: dict[str, Any] = {}
    if (request_id := REQUEST_ID.get()) is not None:
        fields["request_id"] = request_id
    fields.update((k, v) for k, v in vars(record).items() if k not in _STANDARD)
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": escaped(record.getMessage()),
        }
        for name, value in fields_of(record).items():
            line[name] = escaped(value) if isinstance(value, str) else value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def _timestamp(created: float) -> str:
    """ISO 8601 in UTC to the millisecond, as `datetime.isoformat(timespec="milliseconds")`
    writes it; the part up to the second is made once per second (a request line made
    it anew each time: a quarter of the formatter's time)."""
    second = int(created)
    micro = round((created - second) * 1_000_000)  # rounded as datetime.fromtimestamp does
    if micro == 1_000_000:
        second, micro = second + 1, 0
    return f"{_up_to_the_second(second)}.{micro // 1000:03d}+00:00"


@lru_cache(maxsize=4)
def _up_to_the_second(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        pairs = " ".join(f"{k}={escaped(_text(v))}" for k, v in fields_of(record).items())
        line = escaped(super().formatMessage(record))
        return f"{line}  {pairs}" if pairs else line


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a line is emitted, so a replaced stderr
    (a test runner's capture, say) never leaves the handler writing to a closed file.

    Lines logged on a thread that runs an event loop are made at once (the request id
    is read then) but written together at the end of the loop's turn, in one write:
    a line's own write cost more than making it (createPost's request and command
    lines, measured in bench/http_throughput's server). Lines of other threads, and
    `flush()` (logging calls it at exit), write what is pending first, so each
    thread's lines keep their order. A process killed outright loses at most the
    lines of its last turn.

    Once the process is told to stop, lines are written as they are made
    (`write_at_once`): an `api --workers` worker ends by raising the stop signal
    again with its default action, as uvicorn does, which kills it at once, and the
    last turn's lines ("Application shutdown complete", "Finished server process")
    were lost on every stop."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self._pending: list[str] = []
        self._deferring = True
        _skip_unwritten_record_fields()

    def write_at_once(self) -> None:
        self._deferring = False
        self.flush()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._pending.append(self.format(record) + self.terminator)
            loop = asyncio.events._get_running_loop()  # asyncio's own fast check, no raise
            if loop is None or not self._deferring:
                self._write_pending()
            elif len(self._pending) == 1:
                loop.call_soon(self.flush)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_pending()

    def _write_pending(self) -> None:
        """Under the handler's lock (logging holds it around emit)."""
        if self._pending:
            lines, self._pending = "".join(self._pending), []
            self.stream.write(lines)
        self.stream.flush()


def write_at_once() -> None:
    """From now on, the process's log lines are written as they are made, none deferred
    to the end of the event loop's turn: for a process that is stopping."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, StderrHandler):
            handler.write_at_once()


def _skip_unwritten_record_fields() -> None:
    """Neither formatter here writes where a line was logged from (file, line, function),
    nor its thread, process or task, which logging looks up for every record unless told
    not to (the logging HOWTO's "Optimization" section names these switches): 2.6 of a
    request line's 13.4 µs. Set where the handler is made, in every process that
    configures logging (uvicorn's workers each apply the config)."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    if sys.version_info >= (3, 12):
        logging.logAsyncioTasks = False


def logging_config(
    level: str, style: str, filters: Mapping[str, Sequence[str]] | None = None
) -> dict[str, Any]:
    """A `logging.config.dictConfig` dict; uvicorn applies it in each worker it spawns.

    `style` is `json`, `text`, or `auto` (JSON unless stderr is a terminal).
    `filters` maps a logger's name to the dotted paths of the logging.Filters for it,
    applied in order."""
    as_json = style == "json" or (style == "auto" and not sys.stderr.isatty())
    formatter = JsonFormatter if as_json else TextFormatter
    named = {
        logger: {f"{logger}:{path}": path for path in paths}
        for logger, paths in (filters or {}).items()
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"inkwell": {"()": f"{__name__}.{formatter.__name__}"}},
        "filters": {
            name: {"()": path} for by_name in named.values() for name, path in by_name.items()
        },
        "handlers": {
            "stderr": {"()": f"{__name__}.{StderrHandler.__name__}", "formatter": "inkwell"}
        },
        "loggers": {logger: {"filters": list(by_name)} for logger, by_name in named.items()},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
    }


def _text(value: Any) -> str:
    if isinstance(value, list | tuple | set):
        return ",".join(str(v) for v in value)
    return str(value)
