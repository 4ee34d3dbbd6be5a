"""Fixtures shared by every test: real Redis, real SQLite or PostgreSQL, an isolated namespace each.

Redis is the machine's when REDIS_URL is set, else one embedded server for the
session. Each test gets its own key prefix and database (a SQLite file, or its
own PostgreSQL schema), and removes them afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    # The app, Redis and the SQL drivers are imported only by the fixtures that use them, so
    # tests of the domain alone start in a fraction of a second.
    from redis.asyncio import Redis

    from harness.redis_server import PrivateRedis
    from infra.settings import Settings
    from tests.support.api import Api
    from wiring.bootstrap import Inkwell

POSTGRES_URL = os.environ.get("INKWELL_TEST_POSTGRES_URL")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    if url := os.environ.get("REDIS_URL"):
        yield url
    else:
        from infra.embedded_redis import EmbeddedRedis

        with EmbeddedRedis() as url:
            yield url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """An asyncio client of the tests' Redis, answers decoded."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A redis-server of the test's own, to flush, stop and restart under a running app."""

    from harness.redis_server import PrivateRedis

    with PrivateRedis(tmp_path) as server:
        yield server


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    from harness.redis_keys import forget

    forget(redis_url, name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'events.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("set INKWELL_TEST_POSTGRES_URL to run against PostgreSQL")
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL (when configured)."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def settings(sqlite_url: str, redis_url: str, prefix: str, tmp_path: Path) -> Settings:
    from tests.support.settings import make_settings

    return make_settings(sqlite_url, redis_url, prefix, tmp_path)


@pytest.fixture
async def inkwell(settings: Settings) -> AsyncIterator[Inkwell]:
    from wiring.bootstrap import running

    async with running(settings) as app:
        yield app


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    """The real ASGI app with its lifespan, spoken to over HTTP semantics (TestClient)."""
    from starlette.testclient import TestClient

    from tests.support.api import Api
    from wiring.asgi import create_app

    with TestClient(create_app(settings)) as client:
        yield Api(client)
