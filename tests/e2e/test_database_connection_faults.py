"""PostgreSQL connections cut under a steady load of writes, on real processes.

A failover, a restarted PgBouncer or an idle-connection killer ends a server's
connections without warning. Here PostgreSQL itself ends every connection of the server
and of its projector process (`pg_terminate_backend`), three times while clients keep
writing. A write whose connection died may be refused, as UNAVAILABLE; the next ones
must commit on new connections. Every acknowledged write must then be readable, and the
read models must equal a replay of the log (`inkwell verify`).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from harness.server_process import ServerProcess
from tests.support.api import http_api
from tests.support.write_load import Acknowledged, assert_exact, assert_readable, load

pytestmark = pytest.mark.postgres

STEP = 25  # acknowledged writes between two cuts
CUTS = 3
# What a client may be told while its write's connection is cut: the store is
# unavailable, or (for a like that committed as its answer was lost, then sent again)
# that it was already done.
REFUSALS_EXPECTED = {"UNAVAILABLE", "BUSINESS_RULE"}


def test_every_acknowledged_write_survives_its_connections_being_cut(
    postgres_url: str, server_env: dict[str, str], tmp_path: Path
) -> None:
    # Every connection of the server and its projector process carries this name, so
    # that only they are cut, not those of tests running beside this one.
    name = f"inkwell-{uuid.uuid4().hex[:12]}"
    env = {**server_env, "DATABASE_URL": f"{postgres_url}&application_name={name}"}
    server = ServerProcess(env, tmp_path).start()
    api = http_api(server)
    try:
        with load(server.url) as done:
            for _ in range(CUTS):
                done.wait_for_more(STEP)
                assert cut_connections(postgres_url, name) > 0, "no connection was cut"
                done.wait_for_more(STEP)
                assert_readable(api, done)
        assert_served_through(done)
        assert_exact(api, done, env, tmp_path)
    finally:
        server.close()


def cut_connections(database_url: str, application_name: str) -> int:
    """Ends every connection that names itself so, as an administrator would."""
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            cut = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = :name"
                ),
                {"name": application_name},
            ).scalar_one()
        return int(cut)
    finally:
        admin.dispose()


def assert_served_through(done: Acknowledged) -> None:
    assert not done.server_errors, done.server_errors
    unexpected = set(done.refusals) - REFUSALS_EXPECTED
    assert not unexpected, done.refusals
