"""PostgreSQL connections cut, or held by a paused process, under writes on real processes.

A failover, a restarted PgBouncer or an idle-connection killer ends a server's
connections without warning. Here PostgreSQL itself ends every connection of the server
and of its projector process (`pg_terminate_backend`), three times while clients keep
writing. A write whose connection died may be refused, as UNAVAILABLE; the next ones
must commit on new connections. A database that turns read-only (a standby) refuses
writes the same way. Every acknowledged write must then be readable, and the
read models must equal a replay of the log (`inkwell verify`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import Connection, create_engine, make_url, text

from eventstore.engines import IDLE_IN_TRANSACTION_SECONDS
from harness.server_process import ServerProcess
from tests.support.api import Api, http_api
from tests.support.waiting import until_true
from tests.support.write_load import Acknowledged, assert_exact, assert_readable, load

pytestmark = pytest.mark.postgres

STEP = 25  # acknowledged writes between two cuts
CUTS = 3
# What a client may be told while its write's connection is cut: the store is
# unavailable, or (for a like that committed as its answer was lost, then sent again)
# that it was already done.
REFUSALS_EXPECTED = {"UNAVAILABLE", "BUSINESS_RULE"}
REGISTER = 'mutation { registerUser(input: {name: "Writer"}) { token } }'
CREATE = "mutation($i: CreatePostInput!) { createPost(input: $i) { position } }"


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


def test_a_process_paused_inside_a_write_holds_the_others_writes_for_seconds_only(
    postgres_url: str, server_env: dict[str, str], tmp_path: Path
) -> None:
    """Two `api` processes on one log. An append holds the log's advisory lock until it
    commits; one process is paused inside an append (SIGSTOP: a frozen VM or container).
    The other's writes waited for the lock as long as the pause lasted, each refused as
    UNAVAILABLE at its 15 s commit deadline. PostgreSQL now ends a writer's session idle
    in a transaction after IDLE_IN_TRANSACTION_SECONDS, and the lock with it."""
    name = f"inkwell-{uuid.uuid4().hex[:12]}"
    paused = ServerProcess(
        {**server_env, "DATABASE_URL": f"{postgres_url}&application_name={name}"},
        tmp_path,
        command="api",
    ).start()
    other = ServerProcess({**server_env, "DATABASE_URL": postgres_url}, tmp_path, command="api")
    other.start()
    stop = threading.Event()
    busy = threading.Thread(target=_write_until, args=(paused.url, stop))
    try:
        with (
            httpx.Client(base_url=paused.url, timeout=30) as to_paused,
            httpx.Client(base_url=other.url, timeout=30) as to_other,
        ):
            paused_api, other_api = Api(to_paused), Api(to_other)
            tokens = (_register(paused_api), _register(other_api))
            busy.start()
            _pause_inside_an_append(paused, postgres_url, name)
            started = time.monotonic()
            answer = _create_post(other_api, tokens[1])
            waited = time.monotonic() - started
            assert "errors" not in answer, (answer, waited)
            assert waited < IDLE_IN_TRANSACTION_SECONDS + 5, waited
            assert paused.process is not None
            paused.process.send_signal(signal.SIGCONT)
            stop.set()
            busy.join(timeout=30)
            # Its append failed with its session; the next one commits.
            assert "errors" not in _create_post(paused_api, tokens[0])
    finally:
        stop.set()
        if paused.process is not None:
            paused.process.send_signal(signal.SIGCONT)
        paused.close()
        other.close()


def _register(api: Api) -> str:
    token: str = api.ok(REGISTER)["registerUser"]["token"]
    return token


def _create_post(api: Api, token: str) -> dict[str, Any]:
    return api.call(CREATE, {"i": {"title": "t", "content": "x"}}, token=token)


def _write_until(url: str, stop: threading.Event) -> None:
    """Writes flat out, so that the process's writer is inside an append most of the time."""
    with httpx.Client(base_url=url, timeout=60) as client:
        api = Api(client)
        token = _register(api)
        while not stop.is_set():
            with contextlib.suppress(httpx.TransportError):
                _create_post(api, token)


def _pause_inside_an_append(server: ServerProcess, database_url: str, name: str) -> None:
    """SIGSTOP, until the process stops while its writer holds the append lock."""
    assert server.process is not None
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        deadline = time.monotonic() + 30
        while True:
            server.process.send_signal(signal.SIGSTOP)
            time.sleep(0.05)
            with admin.connect() as conn:
                holding = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                        " WHERE a.application_name = :name AND l.locktype = 'advisory'"
                        " AND l.granted AND a.state = 'idle in transaction'"
                    ),
                    {"name": name},
                ).scalar_one()
            if holding:
                return
            server.process.send_signal(signal.SIGCONT)
            assert time.monotonic() < deadline, "never paused inside an append"
            time.sleep(0.01)
    finally:
        admin.dispose()


@pytest.fixture
def role_url(postgres_url: str) -> Iterator[tuple[str, str]]:
    """A login role of its own owning a schema of its own, and a URL connecting as it: a
    setting of that role changes this test's server alone. Yields (url, role)."""
    role = f"inkwell_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(text(f'CREATE SCHEMA "{role}" AUTHORIZATION "{role}"'))
    url = make_url(postgres_url).set(username=role, query={"options": f"-csearch_path={role}"})
    yield url.render_as_string(hide_password=False), role
    with admin.connect() as conn:
        _end_sessions_of(conn, role)
        conn.execute(text(f'DROP SCHEMA "{role}" CASCADE'))
        conn.execute(text(f'DROP ROLE "{role}"'))
    admin.dispose()


def test_a_database_that_turns_read_only_refuses_writes_as_unavailable_and_appends_nothing(
    role_url: tuple[str, str], postgres_url: str, server_env: dict[str, str], tmp_path: Path
) -> None:
    """A failover that leaves DATABASE_URL on the demoted primary, now a standby, or a
    database set read-only: the connection works and every write is refused with SQLSTATE
    25006. That was INTERNAL_SERVER_ERROR with two tracebacks per write. It is UNAVAILABLE,
    which a client retries, with one warning line; reads still answer, /ready says
    "degraded" naming the database, and once the database takes writes again a refused
    command sent again commits, once. The log lines quoted the statement with its
    values: the draft's whole text."""
    url, role = role_url
    server = ServerProcess({**server_env, "DATABASE_URL": url}, tmp_path).start()
    api = http_api(server)
    try:
        author = api.register("Writer")
        post = api.published_post(author, "Before")
        head = _head(url)

        _set_read_only(postgres_url, role, True)
        refused = {"title": "During", "content": PRIVATE, "commandId": str(uuid.uuid4())}
        for _ in range(3):
            error = api.error(CREATE, {"i": refused}, token=author.token)
            assert error["extensions"]["code"] == "UNAVAILABLE", error
        assert api.error(REGISTER)["extensions"]["code"] == "UNAVAILABLE"
        assert _head(url) == head, "a refused write appended events"
        read = api.ok("query($id: ID!) { post(id: $id) { title } }", {"id": post["id"]})
        assert read["post"] == {"title": "Before"}
        ready = api.client.get("/ready")
        assert ready.status_code == 200 and ready.json()["degraded"] == ["database"], ready.text
        assert api.client.get("/ready?strict").status_code == 503

        _set_read_only(postgres_url, role, False)
        first = api.ok(CREATE, {"i": refused}, token=author.token)["createPost"]
        again = api.ok(CREATE, {"i": refused}, token=author.token)["createPost"]
        assert first == again and int(first["position"]) == head + 1
        assert _head(url) == head + 1
        # /ready reuses its answer for up to a second (observability/recent_answer.py).
        until_true(lambda: api.client.get("/ready").json()["checks"]["database"] == {"ok": True})
    finally:
        server.close()
    log = server.log.read_text()
    assert "Traceback" not in log
    assert "the database refuses writes" in log
    assert PRIVATE not in log  # the driver's message is logged, not the statement's values


PRIVATE = "A draft's text, which no log line may quote"


def _set_read_only(admin_url: str, role: str, read_only: bool) -> None:
    """As a standby would be: every new session read-only, the old ones ended (a failover
    ends them), so that the server's next writes come on sessions that refuse them."""
    setting = "SET default_transaction_read_only = on" if read_only else "RESET ALL"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER ROLE "{role}" {setting}'))
            _end_sessions_of(conn, role)
    finally:
        admin.dispose()


def _end_sessions_of(conn: Connection, role: str) -> None:
    conn.execute(
        text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :role"),
        {"role": role},
    )


def _head(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            head = conn.execute(text("SELECT coalesce(max(position), 0) FROM events"))
            return int(head.scalar_one())
    finally:
        engine.dispose()
