"""Logs a write can be followed through: request id, command id, events, projector lines."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson
import pytest
import redis
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from domain.ports import CommandRecord
from eventstore.log_reader import LogReader
from harness.server_process import ServerProcess
from infra.settings import Settings
from observability.command_log import CommandLog
from observability.logs import (
    REQUEST_ID,
    JsonFormatter,
    StderrHandler,
    TextFormatter,
    logging_config,
)
from projections.keyspace.keys import Keys
from tests.support import operations as ops
from tests.support.api import Api
from wiring.bootstrap import PROJECTIONS as ALL_PROJECTIONS

REGISTER = 'mutation { registerUser(input: {name: "Ann"}) { position } }'
PROJECTIONS = {projection.name for projection in ALL_PROJECTIONS}


def json_lines(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [orjson.loads(line) for line in lines if line.startswith("{")]


def built(settings: Settings, projector: ServerProcess) -> None:
    """Waits until every projection has an active space (its first build swapped in)."""
    spaces = [Keys(settings.prefix).namespace(name) for name in PROJECTIONS]
    deadline = time.monotonic() + 30
    with redis.Redis.from_url(settings.redis_url or "") as client:
        while client.exists(*spaces) < len(spaces):
            assert time.monotonic() < deadline, projector.log.read_text()
            time.sleep(0.05)


def last_event(database_url: str) -> Any:
    engine = create_engine(database_url)
    try:
        return asyncio.run(LogReader(engine).last(1))[0]
    finally:
        engine.dispose()


def test_one_command_is_followed_from_the_request_log_to_the_projector_log(
    settings: Settings, tmp_path: Path
) -> None:
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "INKWELL_PREFIX": settings.prefix,
        "INKWELL_DATA_DIR": str(tmp_path / "data"),
    }
    projector = ServerProcess(env, tmp_path, command="project").start(wait=False)
    try:
        # The command must reach running projectors: one that came before their first
        # build would be applied by that build, which logs no line per batch.
        built(settings, projector)
        with ServerProcess(env, tmp_path, command="api") as api_server:
            response = httpx.post(
                f"{api_server.url}/graphql",
                json={"query": REGISTER},
                headers={"X-Request-Id": "follow-me-1"},
            )
            assert response.headers["x-request-id"] == "follow-me-1"
            position = response.json()["data"]["registerUser"]["position"]
            Api(httpx.Client(base_url=api_server.url)).ok(
                ops.PROJECTIONS, headers={"X-Consistent-With": position}
            )
        api_log = json_lines(api_server.log)

        # The API's request line, and its command line under the same request id...
        [request] = [
            line
            for line in api_log
            if line.get("request_id") == "follow-me-1" and line["logger"] == "inkwell.requests"
        ]
        assert (request["method"], request["path"], request["status"]) == ("POST", "/graphql", 200)
        [command] = [
            line
            for line in api_log
            if line.get("request_id") == "follow-me-1" and line["logger"] == "inkwell.commands"
        ]
        assert command["command_type"] == "RegisterUser" and command["outcome"] == "ok"
        assert command["correlation_id"] == "follow-me-1"
        command_id = command["command_id"]

        # ...the event in the log, carrying both ids...
        event = last_event(settings.database_url)
        assert (event.command_id, event.correlation_id) == (command_id, "follow-me-1")
        assert str(event.position) == position == str(command["position"])

        # ...and every projection's line in the projector process's own log.
        deadline = time.monotonic() + 30
        while True:
            applied = {
                line["projection"]
                for line in json_lines(projector.log)
                if command_id in line.get("command_ids", ())
                and "follow-me-1" in line.get("correlation_ids", ())
            }
            if applied == PROJECTIONS:
                break
            assert time.monotonic() < deadline, f"projector lines name only {applied}"
            time.sleep(0.1)
    finally:
        projector.stop()


def test_every_response_carries_its_request_id_which_becomes_the_correlation_id(
    api: Api, settings: Settings
) -> None:
    client = api.client
    generated = client.post("/graphql", json={"query": REGISTER})
    rid = generated.headers["x-request-id"]
    assert len(rid) == 32
    assert last_event(settings.database_url).correlation_id == rid

    kept = client.get("/health", headers={"X-Request-Id": "abc-123"})
    assert kept.headers["x-request-id"] == "abc-123"
    replaced = client.get("/health", headers={"X-Request-Id": "x" * 300})
    assert len(replaced.headers["x-request-id"]) == 32


@pytest.mark.parametrize(
    ("terminal", "formatter"), [(False, "JsonFormatter"), (True, "TextFormatter")]
)
def test_logs_are_json_off_a_terminal_and_text_on_one(
    monkeypatch: pytest.MonkeyPatch, terminal: bool, formatter: str
) -> None:
    class Stderr(io.StringIO):
        def isatty(self) -> bool:
            return terminal

    monkeypatch.setattr("sys.stderr", Stderr())
    config = logging_config("info", "auto")
    assert config["formatters"]["inkwell"]["()"].endswith(formatter)
    assert config["root"]["level"] == "INFO"
    assert logging_config("info", "json")["formatters"]["inkwell"]["()"].endswith("JsonFormatter")


def test_both_formats_carry_the_request_id_and_the_extra_fields() -> None:
    record = logging.LogRecord("inkwell.x", logging.INFO, __file__, 1, "applied %d", (3,), None)
    record.command_ids = ["c1", "c2"]
    token = REQUEST_ID.set("r-1")
    try:
        as_json = orjson.loads(JsonFormatter().format(record))
        as_text = TextFormatter().format(record)
    finally:
        REQUEST_ID.reset(token)
    assert as_json["message"] == "applied 3"
    assert as_json["request_id"] == "r-1" and as_json["command_ids"] == ["c1", "c2"]
    assert as_json["level"] == "INFO" and as_json["logger"] == "inkwell.x"
    assert as_text.endswith("applied 3  request_id=r-1 command_ids=c1,c2")


def test_a_lone_surrogate_a_client_sent_is_written_as_its_escape() -> None:
    """orjson cannot write one: the line was lost to a "--- Logging error ---" traceback."""
    half = "\U0001f600".encode("utf-16-le")[:2].decode("utf-16-le", "surrogatepass")
    record = logging.LogRecord("inkwell.x", logging.INFO, __file__, 1, "named %s", (half,), None)
    record.operation = f"A{half}"
    line = orjson.loads(JsonFormatter().format(record))
    assert (line["message"], line["operation"]) == ("named \\ud83d", "A\\ud83d")


class CountedWrites(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def logger_on(handler: StderrHandler) -> logging.Logger:
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"inkwell.test-{time.monotonic_ns()}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger


def messages(text: str) -> list[str]:
    return [orjson.loads(line)["message"] for line in text.splitlines()]


def test_lines_of_one_loop_turn_are_written_together_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stderr = CountedWrites()
    monkeypatch.setattr("sys.stderr", stderr)
    log = logger_on(StderrHandler())

    async def turn() -> tuple[str, str]:
        log.info("request %d", 1)
        log.info("command %d", 1)
        during = stderr.getvalue()
        await asyncio.sleep(0)  # the turn ends: the handler's write runs
        await asyncio.sleep(0)
        return during, stderr.getvalue()

    during, after = asyncio.run(turn())
    assert during == ""
    assert messages(after) == ["request 1", "command 1"]
    assert stderr.writes == 1


def test_a_line_off_the_loop_and_a_flush_write_what_is_pending_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stderr = CountedWrites()
    monkeypatch.setattr("sys.stderr", stderr)
    handler = StderrHandler()
    log = logger_on(handler)

    async def pending_then_from_a_thread() -> None:
        log.info("on the loop")
        await asyncio.to_thread(log.info, "on a thread")  # writes at once, after the pending

    asyncio.run(pending_then_from_a_thread())
    assert messages(stderr.getvalue()) == ["on the loop", "on a thread"]

    async def pending_at_exit() -> None:
        log.info("last words")

    asyncio.run(pending_at_exit())  # the loop ends before the turn's write
    handler.flush()  # what logging.shutdown does at exit
    assert messages(stderr.getvalue())[-1] == "last words"


def test_records_skip_the_lookups_no_formatter_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the handler is made, a record is made without finding its caller, thread or
    process; the line it gives is the same."""
    monkeypatch.setattr("sys.stderr", io.StringIO())
    kept: list[logging.LogRecord] = []
    log = logger_on(StderrHandler())
    log.addHandler(type("Keep", (logging.Handler,), {"emit": lambda _, r: kept.append(r)})())
    log.info("made %s", "cheaply", extra={"post_id": "p1"})
    (record,) = kept
    assert (record.funcName, record.lineno, record.thread, record.process) == (
        "(unknown function)", 0, None, None,
    )  # fmt: skip
    line = orjson.loads(JsonFormatter().format(record))
    assert line["message"] == "made cheaply" and line["post_id"] == "p1"
    assert set(line) == {"ts", "level", "logger", "message", "post_id"}


@pytest.mark.parametrize(
    "created",
    [0.0, 1_796_462_606.7569995, 1_796_300_422.9999996, 1_796_300_422.0004999, 1_796_300_422.5],
)
def test_the_timestamp_is_the_one_datetime_writes(created: float) -> None:
    record = logging.LogRecord("inkwell.x", logging.INFO, __file__, 1, "m", (), None)
    record.created = created
    written = orjson.loads(JsonFormatter().format(record))["ts"]
    assert written == datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


def test_a_failed_commands_line_quotes_the_error_not_the_statements_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A database error's text goes on with the statement and its parameters: each write
    refused during an outage logged the post's whole content."""
    draft = "A draft's text, which no log line may quote"
    failure = OperationalError(
        "INSERT INTO events (data) VALUES (%(data)s)",
        {"data": draft},
        Exception("server closed the connection unexpectedly"),
    )
    record = CommandRecord("cmd-1", "CreatePost", "user-1", "corr-1", None)
    with caplog.at_level(logging.INFO, logger="inkwell.commands"):
        CommandLog().handled(record, failure, 0.01)
    (line,) = caplog.records
    assert line.reason == "(builtins.Exception) server closed the connection unexpectedly"  # type: ignore[attr-defined]
    assert draft not in caplog.text
