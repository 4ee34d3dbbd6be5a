"""/health and /ready against real stores and a real projector process that stops and resumes."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import redis
from redis.asyncio import Redis
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from domain.commands import RegisterUser
from eventstore.engines import open_engines
from eventstore.log_reader import LogReader
from harness.net import free_port
from harness.redis_server import start as redis_server
from harness.server_process import ServerProcess
from infra.settings import Settings
from observability.progress import Progress, ProgressReader
from observability.readiness import Limits, Readiness
from tests.support import operations as ops
from tests.support.api import Api
from tests.support.cli import run_cli
from tests.support.in_process import send
from tests.support.metrics import parse, total, value
from tests.support.settings import make_settings
from wiring.asgi import create_app
from wiring.bootstrap import PROJECTIONS as ALL_PROJECTIONS
from wiring.bootstrap import Inkwell, running

REGISTER = 'mutation { registerUser(input: {name: "Ann"}) { token position } }'
PROJECTIONS = {f"projection:{projection.name}" for projection in ALL_PROJECTIONS}


def eventually(
    client: TestClient,
    path: str,
    status: int,
    timeout: float = 30,
    where: Callable[[dict[str, Any]], bool] = lambda _: True,
) -> dict[str, Any]:
    """Polls until `path` answers `status` with a body `where` accepts; returns the body.
    An answer of /ready is reused for up to a second (observability/recent_answer.py)."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(path)
        if response.status_code == status:
            body: dict[str, Any] = response.json()
            if where(body):
                return body
        assert time.monotonic() < deadline, f"{path} still answers {response.text}"
        time.sleep(0.1)


def test_ready_fails_while_the_projector_is_stopped_and_recovers_when_it_resumes(
    settings: Settings, tmp_path: Path
) -> None:
    settings = dataclasses.replace(settings, ready_stalled_after=1.0)
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "INKWELL_PREFIX": settings.prefix,
        "INKWELL_DATA_DIR": str(tmp_path / "projector"),
    }
    projector = ServerProcess(env, tmp_path, command="project").start(wait=False)
    try:
        with TestClient(create_app(settings, projectors=False)) as client:
            api = Api(client)
            registered = api.ok(REGISTER)["registerUser"]
            api.ok(ops.PROJECTIONS, headers={"X-Consistent-With": registered["position"]})
            token = registered["token"]
            assert client.get("/ready").status_code == 200

            projector.stop()
            api.ok(
                ops.CREATE_POST_POSITION_ONLY, {"input": {"title": "T", "content": ""}}, token=token
            )
            refused = eventually(client, "/ready", 503)
            assert refused["status"] == "not ready"
            assert set(refused["failed"]) == PROJECTIONS
            for name in PROJECTIONS:
                check = refused["checks"][name]
                assert check["reason"].startswith("stalled: 1 events waiting"), check
                assert (check["position"], check["head"], check["lag"]) == (1, 2, 1)
            assert refused["checks"]["database"] == refused["checks"]["redis"] == {"ok": True}
            assert client.get("/health").status_code == 200

            projector.start(wait=False)
            recovered = eventually(client, "/ready", 200)
            assert recovered["failed"] == []
            lags = {name: recovered["checks"][name]["lag"] for name in PROJECTIONS}
            assert set(lags.values()) == {0}, recovered["checks"]
    finally:
        if projector.process is not None:
            projector.stop()


def test_ready_is_degraded_while_events_wait_and_no_projector_holds_a_lease(
    settings: Settings,
) -> None:
    """Every projector stopped (SIGSTOP, kill -9): /ready said "ready" until the stalled
    limit, 30 s, while `status` said "no projector" (an outside probe)."""
    with TestClient(create_app(settings, projectors=False)) as client:
        Api(client).ok(REGISTER)
        body = eventually(client, "/ready", 200, where=lambda b: b["status"] != "ready")
        assert body["status"] == "degraded" and set(body["degraded"]) == PROJECTIONS, body
        for name in PROJECTIONS:
            assert "no projector holds the projection's lease" in body["checks"][name]["reason"]


def test_ready_fails_when_a_projection_lags_beyond_the_limit(settings: Settings) -> None:
    settings = dataclasses.replace(settings, ready_max_lag=0)
    with TestClient(create_app(settings, projectors=False)) as client:
        assert client.get("/ready").status_code == 200
        Api(client).ok(REGISTER)
        body = eventually(client, "/ready", 503)
    assert set(body["failed"]) == PROJECTIONS
    assert body["checks"]["projection:users"]["reason"] == "lag 1 events, above 0"


def test_ready_names_redis_when_it_stops_answering_and_metrics_count_its_errors(
    tmp_path: Path, sqlite_url: str, prefix: str
) -> None:
    port = free_port()
    server = redis_server(port)
    settings = make_settings(sqlite_url, f"redis://127.0.0.1:{port}", prefix, tmp_path)
    try:
        with TestClient(create_app(settings)) as client:
            eventually(client, "/ready", 200)
            server.kill()
            server.wait()

            body = eventually(client, "/ready", 503)
            assert body["failed"] == ["redis"]
            # What went wrong, not that the check ran out of time retrying it.
            assert "ConnectionError: Error 111 connecting" in body["checks"]["redis"]["reason"]
            assert body["checks"]["database"] == {"ok": True}
            assert client.get("/health").json() == {"status": "ok"}
            samples = parse(client.get("/metrics").text)
            assert value(samples, "inkwell_projection_progress_unreadable") == 1
            assert total(samples, "inkwell_redis_errors_total") > 0
            assert value(samples, "inkwell_projection_position", projection="posts") is None

            server = redis_server(port)
            eventually(client, "/ready", 200)
    finally:
        server.kill()
        server.wait()


def operator_env(settings: Settings) -> dict[str, str]:
    """The environment an operator's `inkwell` command reads these settings from."""
    assert settings.redis_url is not None
    return {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "INKWELL_PREFIX": settings.prefix,
        "COLUMNS": "200",
    }


def test_ready_is_degraded_once_redis_may_evict_read_model_keys(
    tmp_path: Path, sqlite_url: str, prefix: str
) -> None:
    """A policy set after startup went unseen: Redis evicted 6,159 read-model keys under
    allkeys-lru, queries missed posts, and /ready said ready."""
    port = free_port()
    server = redis_server(port)
    settings = make_settings(sqlite_url, f"redis://127.0.0.1:{port}", prefix, tmp_path)
    try:
        with TestClient(create_app(settings)) as client, redis.Redis(port=port) as admin:
            assert eventually(client, "/ready", 200)["status"] == "ready"
            admin.config_set("maxmemory-policy", "allkeys-lru")
            body = eventually(client, "/ready", 200, where=lambda b: b["status"] != "ready")
            assert body["status"] == "degraded" and body["degraded"] == ["redis"], body
            assert "allkeys-lru" in body["checks"]["redis"]["reason"]
            assert client.get("/ready?strict").status_code == 503
            # `inkwell status` says so too: it exited 0 in silence until keys were gone.
            said = run_cli(operator_env(settings), tmp_path, "status")
            assert said.returncode == 1, said.stdout + said.stderr
            assert "maxmemory-policy is allkeys-lru" in " ".join(said.stdout.split())
            admin.config_set("maxmemory-policy", "noeviction")
            eventually(client, "/ready", 200, where=lambda b: b["status"] == "ready")
            assert run_cli(operator_env(settings), tmp_path, "status").returncode == 0
    finally:
        server.kill()
        server.wait()


async def test_a_redis_that_refuses_info_is_still_ready_when_it_answers(
    inkwell: Inkwell, tmp_path: Path
) -> None:
    """A managed Redis's ACL may deny INFO: the eviction check must not take the process
    out of the load balancer for it."""
    port = free_port()
    server = redis_server(port, directory=tmp_path)
    try:
        with redis.Redis(port=port) as admin:
            admin.execute_command("ACL", "SETUSER", "app", "on", ">pw", "~*", "+@all", "-info")
        limited = Redis(port=port, username="app", password="pw")
        try:
            progress = ProgressReader(limited, inkwell.keys, ["posts"], inkwell.log)
            readiness = Readiness(limited, inkwell.log, inkwell.keys, progress, Limits(10, 10))
            assert (await readiness.check()).checks["redis"] == {"ok": True}
        finally:
            await limited.aclose()
    finally:
        server.kill()
        server.wait()


def test_ready_names_the_read_replica_when_it_stops_answering_or_loses_its_primary(
    tmp_path: Path, sqlite_url: str, prefix: str
) -> None:
    """With REDIS_READ_URL every query reads the replica: while it is down, or cut off
    from its primary (its data growing stale), the process answers no query right and
    must leave the load balancer, though the primary answers."""
    primary_port, replica_port, nowhere = free_port(), free_port(), free_port()
    primary = redis_server(primary_port, directory=tmp_path)
    replica = redis_server(replica_port, replica_of=primary_port, directory=tmp_path)
    settings = dataclasses.replace(
        make_settings(sqlite_url, f"redis://127.0.0.1:{primary_port}", prefix, tmp_path),
        redis_read_url=f"redis://127.0.0.1:{replica_port}",
    )
    try:
        with TestClient(create_app(settings)) as client:
            assert eventually(client, "/ready", 200)["checks"]["redis:reads"] == {"ok": True}
            replica.kill()
            replica.wait()
            down = eventually(client, "/ready", 503)
            assert down["failed"] == ["redis:reads"]
            assert down["checks"]["redis"] == {"ok": True}

            replica = redis_server(replica_port, replica_of=primary_port, directory=tmp_path)
            eventually(client, "/ready", 200)
            with redis.Redis(port=replica_port) as admin:
                admin.replicaof("127.0.0.1", nowhere)
                cut_off = eventually(client, "/ready", 503)
                assert cut_off["failed"] == ["redis:reads"]
                assert "link to its primary is down" in cut_off["checks"]["redis:reads"]["reason"]
                admin.replicaof("127.0.0.1", primary_port)
            eventually(client, "/ready", 200)
    finally:
        for server in (replica, primary):
            server.kill()
            server.wait()


def test_ready_fails_while_the_read_url_names_a_redis_the_primary_does_not_feed(
    tmp_path: Path, sqlite_url: str, prefix: str
) -> None:
    """REDIS_READ_URL naming another Redis, or another database of the primary's, was
    taken without a word: /ready said ready while every query read read models no
    projector writes. Made a replica of the primary, the same server reads right."""
    primary_port, stray_port = free_port(), free_port()
    primary = redis_server(primary_port, directory=tmp_path)
    stray = redis_server(stray_port, directory=tmp_path)
    primary_url = f"redis://127.0.0.1:{primary_port}"
    try:
        for read_url in (f"{primary_url}/1", f"redis://127.0.0.1:{stray_port}"):
            settings = dataclasses.replace(
                make_settings(sqlite_url, primary_url, prefix, tmp_path), redis_read_url=read_url
            )
            with TestClient(create_app(settings)) as client:
                assert client.post("/graphql", json={"query": "{ __typename }"}).status_code == 200
                refused = eventually(client, "/ready", 503)
                assert refused["failed"] == ["redis:reads"], (read_url, refused)
                reason = refused["checks"]["redis:reads"]["reason"]
                assert "not a replica of REDIS_URL's server" in reason
                assert refused["checks"]["redis"] == {"ok": True}
                if read_url.endswith("/1"):
                    continue
                with redis.Redis(port=stray_port) as admin:
                    admin.replicaof("127.0.0.1", primary_port)
                assert eventually(client, "/ready", 200)["checks"]["redis:reads"] == {"ok": True}
    finally:
        for server in (stray, primary):
            server.kill()
            server.wait()


def test_api_warns_at_start_when_the_read_url_is_not_a_replica_of_the_primary(
    tmp_path: Path, prefix: str
) -> None:
    """/ready says so to a load balancer; a process that none asks said nothing, and
    answered every query from read models no projector writes."""
    primary_port, stray_port, replica_port = free_port(), free_port(), free_port()
    primary = redis_server(primary_port, directory=tmp_path)
    stray = redis_server(stray_port, directory=tmp_path)
    replica = redis_server(replica_port, replica_of=primary_port, directory=tmp_path)
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'log.db'}",
        "REDIS_URL": f"redis://127.0.0.1:{primary_port}",
        "INKWELL_PREFIX": prefix,
    }
    warning = "is not a replica of REDIS_URL's server"
    try:
        for read_port, warned in ((stray_port, True), (replica_port, False)):
            read_url = f"redis://127.0.0.1:{read_port}"
            with ServerProcess({**env, "REDIS_READ_URL": read_url}, tmp_path, "api") as server:
                lines = server.log.read_text().splitlines()
            said = [line for line in lines if warning in line]
            assert bool(said) == warned, lines
            if warned:
                assert f"REDIS_READ_URL {read_url}" in said[0]
    finally:
        for redis_process in (replica, stray, primary):
            redis_process.kill()
            redis_process.wait()


async def test_ready_names_the_database_when_it_does_not_answer(inkwell: Inkwell) -> None:
    nowhere = create_engine(f"postgresql+psycopg://inkwell@127.0.0.1:{free_port()}/none")
    try:
        log = LogReader(nowhere)
        progress = ProgressReader(inkwell.redis, inkwell.keys, ["posts"], log)
        verdict = await Readiness(
            inkwell.redis, log, inkwell.keys, progress, Limits(10, 10)
        ).check()
    finally:
        nowhere.dispose()
    assert verdict.failed == ["database"]
    assert verdict.checks["redis"] == {"ok": True}
    assert verdict.checks["database"]["reason"].startswith("OperationalError")


@pytest.mark.postgres
async def test_ready_names_the_database_when_a_table_writes_use_is_gone(
    inkwell: Inkwell, postgres_url: str
) -> None:
    """Dropped, the commands table failed every mutation (UNAVAILABLE) while the events
    table answered the head's read, and /ready said ready (an outside probe)."""
    engines = open_engines(postgres_url)
    try:
        log = LogReader(engines.reader)
        progress = ProgressReader(inkwell.redis, inkwell.keys, [], log)
        readiness = Readiness(inkwell.redis, log, inkwell.keys, progress, Limits(10, 10))
        before = await readiness.check()
        with engines.writer.begin() as conn:
            conn.execute(text("DROP TABLE commands"))
        after = await readiness.check()
    finally:
        engines.dispose()
    assert before.checks["database"] == {"ok": True}
    assert after.failed == ["database"]
    reason = after.checks["database"]["reason"]
    assert reason.startswith("LogTablesMissing") and '"commands" does not exist' in reason


async def test_ready_fails_once_another_event_log_took_the_read_models_over(
    inkwell: Inkwell,
) -> None:
    """As when this process was paused or cut off while a server of another log took
    them over (projections/projectors/log_binding.py): its writes no longer reach them."""
    readiness = inkwell.operations.readiness
    assert (await readiness.check()).checks["log"] == {"ok": True}
    await inkwell.redis.set(inkwell.keys.log(), "0123456789abcdef0123456789abcdef")
    verdict = await readiness.check()
    assert verdict.failed == ["log"]
    assert "belong to event log 0123456789abcdef" in verdict.checks["log"]["reason"]


def progress(lag: int, lag_seconds: float, idle: float | None) -> Progress:
    now = 1_000_000.0
    return Progress(
        name="posts",
        position=10,
        head=10 + lag,
        lag_seconds=lag_seconds,
        applied=10,
        rebuilds=1,
        parked=0,
        parked_streams=0,
        advanced_at=None if idle is None else now - idle,
        built_at=None,
        at=now,
    )


def test_a_projection_is_stalled_only_when_work_waited_and_nothing_moved_for_the_limit() -> None:
    stalled: Callable[[Progress], bool] = lambda p: p.stalled(after_seconds=30)  # noqa: E731
    assert not stalled(progress(lag=0, lag_seconds=0, idle=3600)), "idle with nothing to do"
    assert not stalled(progress(lag=5, lag_seconds=2, idle=3600)), "handed work a moment ago"
    assert not stalled(progress(lag=5, lag_seconds=600, idle=1)), "a long catch-up that moves"
    assert stalled(progress(lag=5, lag_seconds=60, idle=45)), "work waiting, nothing moving"
    assert stalled(progress(lag=5, lag_seconds=60, idle=None)), "never ran, work waiting"
    assert progress(lag=5, lag_seconds=60, idle=45).state(30) == "stalled"
    assert progress(lag=5, lag_seconds=60, idle=1).state(30) == "catching up"
    assert progress(lag=0, lag_seconds=0, idle=None).state(30) == "caught up"
    unprojected = dataclasses.replace(progress(lag=5, lag_seconds=1, idle=1), projector_runs=False)
    assert unprojected.state(30) == "no projector"
    assert not unprojected.stalled(30), "/ready's stalled keeps its 30 s"


def test_a_lag_that_waits_for_a_rebuild_is_rebuilding_not_stalled_or_unprojected() -> None:
    """After Redis lost its data the projector rebuilt on its own and status said
    "stalled ... applied never" or "no projector" (an outside probe). Beside an `inkwell
    rebuild`, a lag that moves is the live projector's catching up."""
    projector, command = "log@web-1:10673:9b6cb23d:projector", "log@ops:7:5430b410:rebuild"
    lost = progress(lag=5, lag_seconds=60, idle=None)
    for by_projector in (lost, progress(lag=5, lag_seconds=1, idle=None)):
        assert dataclasses.replace(by_projector, rebuilt_by=projector).state(30) == "rebuilding"
    assert dataclasses.replace(lost, rebuilt_by=command).state(30) == "rebuilding"
    unprojected = dataclasses.replace(lost, rebuilt_by=command, projector_runs=False)
    assert unprojected.state(30) == "rebuilding"
    moving = dataclasses.replace(progress(lag=5, lag_seconds=60, idle=1), rebuilt_by=command)
    assert moving.state(30) == "catching up"


def test_a_checkpoint_past_the_head_is_ahead_of_the_log_not_caught_up() -> None:
    """A log restored from an older backup: lag, floored at 0, read "caught up"."""
    restored = progress(lag=-232, lag_seconds=0, idle=3600)
    assert (restored.lag, restored.ahead) == (0, 232)
    assert restored.state(30) == "ahead of the log"
    assert (progress(lag=5, lag_seconds=60, idle=45).ahead, progress(0, 0, None).ahead) == (0, 0)


def test_a_projector_process_answers_health_ready_and_metrics_on_its_own_port(
    settings: Settings, tmp_path: Path
) -> None:
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "INKWELL_PREFIX": settings.prefix,
        "INKWELL_DATA_DIR": str(tmp_path / "projector"),
    }
    projector = ServerProcess(env, tmp_path, command="project")
    projector.args = ("--port", str(projector.port))
    projector.start(wait=False)
    try:
        asyncio.run(_write_a_user(settings))
        with httpx.Client(base_url=projector.url) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    samples = parse(client.get("/metrics").text)
                except httpx.TransportError:
                    samples = {}
                if value(samples, "inkwell_projection_position", projection="users") == 1:
                    break
                assert time.monotonic() < deadline, projector.log.read_text()
                time.sleep(0.1)
            assert client.get("/health").status_code == 200
            assert client.get("/ready").json()["failed"] == []
            assert client.get("/graphql").status_code == 404
    finally:
        projector.stop()


async def _write_a_user(settings: Settings) -> None:
    async with running(settings, projectors=False) as inkwell:
        await send(inkwell, RegisterUser("Ann"))
