"""A pooled PostgreSQL connection whose session the server ended is dropped with one
WARNING line, not an ERROR and a traceback (observability/library_logs.py): PostgreSQL
ends the sessions of the log's reads over and over (`pg_terminate_backend`, as a restart
or a failover does) while they run."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from domain.upcasting import SCHEMAS
from eventstore.engines import open_engines
from eventstore.log_pages import LogPages
from infra.settings import LogSettings
from observability.library_logs import ResetOfEndedSession

pytestmark = pytest.mark.postgres
POOL = "sqlalchemy.pool.impl.QueuePool"


def test_the_logging_config_filters_the_pools_logger() -> None:
    config = LogSettings("INFO", "json").config()
    (name,) = config["loggers"][POOL]["filters"]
    assert config["filters"][name]["()"] == "observability.library_logs.ResetOfEndedSession"


@pytest.fixture
def filtered_pool_log() -> Iterator[None]:
    pool_log, only_ended = logging.getLogger(POOL), ResetOfEndedSession()
    pool_log.addFilter(only_ended)
    yield
    pool_log.removeFilter(only_ended)


def ending_sessions(url: str, name: str, stop: threading.Event) -> None:
    admin = create_engine(url.split("?")[0], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        while not stop.is_set():
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = :name"
                ),
                {"name": name},
            )
            time.sleep(0.02)
    admin.dispose()


async def test_reads_whose_sessions_end_log_no_error(
    postgres_url: str, filtered_pool_log: None, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"inkwell-{uuid.uuid4().hex[:12]}"
    engines = open_engines(f"{postgres_url}&application_name={name}")
    pages = LogPages(engines.reader, SCHEMAS)
    stop = threading.Event()
    ending = threading.Thread(target=ending_sessions, args=(postgres_url, name, stop))
    ending.start()
    try:
        with caplog.at_level(logging.WARNING, logger="sqlalchemy"):
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                try:
                    await pages.after(0, 100)
                except Exception:  # an outage the caller handles: not what is tested
                    await asyncio.sleep(0)
    finally:
        stop.set()
        ending.join()
        engines.dispose()
    pool = [r for r in caplog.records if r.name == POOL]
    assert [r.getMessage() for r in pool if r.levelno >= logging.ERROR] == []
    dropped = [r for r in pool if "the database had ended was dropped" in r.getMessage()]
    assert dropped, "no session was ended between a read and its return: nothing tested"
    assert all(r.exc_info is None for r in dropped)
