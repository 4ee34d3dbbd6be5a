"""A PostgreSQL log whose schema is renamed under the running server: the database
answers, the tables are gone from its search_path. Reads and appends are an outage
(UNAVAILABLE to a client, which retries), not an unexpected error, and the log works
again once the schema is back."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from eventstore.engines import LogTablesMissing
from tests.support.appends import request
from tests.support.stores import opened_store
from wiring.outages import STORE_OUTAGES

pytestmark = pytest.mark.postgres


def renamed(url: str, schema: str, to: str) -> None:
    """On the database of `url`, whose search_path names the schema (the postgres_url
    fixture's), from a connection of its own."""
    admin = create_engine(url.split("options=")[0].rstrip("?&"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER SCHEMA "{schema}" RENAME TO "{to}"'))
    finally:
        admin.dispose()


async def test_a_log_whose_schema_went_away_is_an_outage_until_it_is_back(
    postgres_url: str,
) -> None:
    schema = postgres_url.rsplit("%3D", 1)[1]
    async with opened_store(postgres_url) as store:
        await store.append(request("user-1", 0))
        renamed(postgres_url, schema, f"{schema}_away")
        try:
            for attempt in (store.load("user-1"), store.append(request("user-2", 0))):
                with pytest.raises(LogTablesMissing) as raised:
                    await attempt
                assert isinstance(raised.value, STORE_OUTAGES)
                assert "does not exist" in str(raised.value)
        finally:
            renamed(postgres_url, f"{schema}_away", schema)
        await store.append(request("user-2", 0))
        events, version = await store.load("user-1")
    assert version == 1 and len(events) == 1
