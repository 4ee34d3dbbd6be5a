"""/metrics after real workloads: the counters, the per-projection gauges, the store errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.testclient import TestClient

from domain.commands import RegisterUser
from domain.events import UserRegistered
from eventstore.tables import commands
from harness.redis_server import PrivateRedis
from harness.server_process import ServerProcess
from infra.settings import Settings
from observability.progress import ProgressReader
from projections.projectors.projection import Projection
from projections.projectors.runner import ProjectionRunner
from projections.projectors.scripts import Scripts
from tests.support import operations as ops
from tests.support.api import Api
from tests.support.in_process import send
from tests.support.metrics import Samples, parse, total, value
from tests.support.settings import make_settings
from tests.support.waiting import until_true
from wiring.asgi import create_app
from wiring.bootstrap import PROJECTIONS as ALL_PROJECTIONS
from wiring.bootstrap import Inkwell

PROJECTIONS = tuple(projection.name for projection in ALL_PROJECTIONS)
REGISTER_TOKEN = 'mutation { registerUser(input: {name: "Ann"}) { token } }'


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


@pytest.fixture
def any_database_api(
    database_url: str, redis_url: str, prefix: str, tmp_path: Path
) -> Iterator[tuple[Api, TestClient]]:
    settings = make_settings(database_url, redis_url, prefix, tmp_path)
    with TestClient(create_app(settings)) as client:
        yield Api(client), client


def test_a_workload_shows_in_the_counters_and_the_projection_gauges(
    any_database_api: tuple[Api, TestClient],
) -> None:
    api, client = any_database_api
    ann = api.register("Ann")
    api.register("Bob")
    drafts = [api.create_post(ann, f"Post {i}")["id"] for i in range(3)]
    api.publish(ann, drafts[0])
    api.publish(ann, drafts[1])
    refused = api.error(ops.PUBLISH_POST, {"input": {"postId": drafts[0]}}, token=ann.token)
    assert refused["extensions"]["code"] == "BUSINESS_RULE"
    stale = api.error(
        ops.PUBLISH_POST, {"input": {"postId": drafts[2], "expectedVersion": 5}}, token=ann.token
    )
    assert stale["extensions"]["code"] == "CONFLICT"
    head = 2 + 3 + 2  # two users, three posts, two publishes
    api.ok(ops.PROJECTIONS, headers={"X-Consistent-With": str(head)})

    samples = scrape(client)

    commands_total = "inkwell_commands_total"
    assert value(samples, commands_total, command="RegisterUser", outcome="ok") == 2
    assert value(samples, commands_total, command="CreatePost", outcome="ok") == 3
    assert value(samples, commands_total, command="PublishPost", outcome="ok") == 2
    assert (
        value(samples, commands_total, command="PublishPost", outcome="BusinessRuleViolation") == 1
    )
    assert value(samples, commands_total, command="PublishPost", outcome="ConcurrencyError") == 1
    assert value(samples, "inkwell_command_duration_seconds_count", command="PublishPost") == 4
    assert value(samples, "inkwell_command_duration_seconds_sum", command="PublishPost")
    appended = "inkwell_events_appended_total"
    assert value(samples, appended, type="UserRegistered") == 2
    assert value(samples, appended, type="PostCreated") == 3
    assert value(samples, appended, type="PostPublished") == 2
    assert total(samples, appended) == head
    # One command at a time: a transaction for each that appended, of its one append (the
    # refused ones were refused on the aggregate, before any append).
    transactions = value(samples, "inkwell_log_transaction_appends_count")
    assert transactions == head
    assert value(samples, "inkwell_log_transaction_appends_sum") == head
    took = "inkwell_log_transaction_duration_seconds"
    assert value(samples, f"{took}_count", outcome="committed") == transactions
    assert (value(samples, f"{took}_sum", outcome="committed") or 0) > 0
    assert value(samples, f"{took}_count", outcome="failed") is None
    for name in PROJECTIONS:
        assert value(samples, "inkwell_projection_position", projection=name) == head
        assert value(samples, "inkwell_projection_head_position", projection=name) == head
        assert value(samples, "inkwell_projection_lag_events", projection=name) == 0
        assert value(samples, "inkwell_projection_lag_seconds", projection=name) == 0
        assert value(samples, "inkwell_projection_events_applied_total", projection=name) == head
        assert (
            value(samples, "inkwell_projection_rebuilds_total", projection=name) == 1
        )  # the first
        assert value(samples, "inkwell_projection_parked_events", projection=name) == 0
        advanced = value(
            samples, "inkwell_projection_last_advanced_timestamp_seconds", projection=name
        )
        assert advanced is not None and abs(advanced - time.time()) < 300
        built = value(samples, "inkwell_projection_last_build_timestamp_seconds", projection=name)
        assert built is not None and built <= advanced
    assert value(samples, "inkwell_projection_progress_unreadable") == 0
    assert value(samples, "inkwell_websocket_connections") == 0
    assert value(samples, "inkwell_graphql_subscriptions") == 0
    assert total(samples, "inkwell_redis_errors_total") == 0
    assert total(samples, "inkwell_database_errors_total") == 0


def test_a_redis_that_never_ran_the_scripts_counts_no_errors(
    private_redis: PrivateRedis, sqlite_url: str, prefix: str, tmp_path: Path
) -> None:
    """EVALSHA of a script Redis has not loaded answers NOSCRIPT, and redis-py loads it
    and calls again: the protocol, not a fault. Each was counted as a Redis error, so
    every server that started on a fresh or restarted Redis reported errors."""
    settings = make_settings(sqlite_url, private_redis.url, prefix, tmp_path)
    with TestClient(create_app(settings)) as client:
        api = Api(client)
        ann = api.register("Ann")
        api.publish(ann, api.create_post(ann, "Post")["id"])
        api.ok(ops.PROJECTIONS, headers={"X-Consistent-With": "3"})
        samples = scrape(client)
    assert total(samples, "inkwell_redis_errors_total") == 0


def test_lag_shows_in_events_and_seconds_while_no_projector_runs(
    settings: Settings,
) -> None:
    with TestClient(create_app(settings, projectors=False)) as client:
        api = Api(client)
        token = api.ok(REGISTER_TOKEN)["registerUser"]["token"]
        api.ok(
            ops.CREATE_POST_POSITION_ONLY,
            {"input": {"title": "Waiting", "content": ""}},
            token=token,
        )
        time.sleep(0.05)
        samples = scrape(client)
    for name in PROJECTIONS:
        assert value(samples, "inkwell_projection_position", projection=name) == 0
        assert value(samples, "inkwell_projection_head_position", projection=name) == 2
        assert value(samples, "inkwell_projection_lag_events", projection=name) == 2
        lag_seconds = value(samples, "inkwell_projection_lag_seconds", projection=name)
        assert lag_seconds is not None and 0.05 <= lag_seconds < 300
        assert value(samples, "inkwell_projection_events_applied_total", projection=name) == 0
        assert (
            value(samples, "inkwell_projection_last_advanced_timestamp_seconds", projection=name)
            is None
        )


async def test_an_event_a_projector_cannot_apply_is_counted_as_parked(inkwell: Inkwell) -> None:
    def refuse(_event: object, _recorded: object, _tx: object) -> None:
        raise ValueError("this projector cannot take it")

    broken = Projection("broken").on(UserRegistered, refuse)
    runner = ProjectionRunner(
        broken,
        inkwell.redis,
        inkwell.keys,
        Scripts.register(inkwell.redis),
        inkwell.store,
        broadcast=None,  # catch_up() never subscribes
    )
    await send(inkwell, RegisterUser("Ann"))
    await send(inkwell, RegisterUser("Bob"))
    await runner.catch_up()

    [progress] = await ProgressReader(inkwell.redis, inkwell.keys, ["broken"], inkwell.log).read()
    assert (progress.position, progress.head, progress.parked, progress.applied) == (2, 2, 2, 0)
    samples = parse(inkwell.operations.exposition.render([progress]).decode())
    assert value(samples, "inkwell_projection_parked_events", projection="broken") == 2
    assert value(samples, "inkwell_projection_events_applied_total", projection="broken") == 0


async def test_database_errors_are_counted_and_a_refused_stale_append_is_not(
    inkwell: Inkwell,
) -> None:
    with pytest.raises(OperationalError), inkwell.engines.reader.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table"))
    row = {
        "scope": "user:u",
        "command_id": "c",
        "command_type": "T",
        "fingerprint": "f",
        "position": 1,
        "ids": "{}",
        "recorded_at": datetime.now(UTC),
    }
    with inkwell.engines.writer.begin() as conn:
        conn.execute(insert(commands), row)
    with pytest.raises(IntegrityError), inkwell.engines.writer.begin() as conn:
        conn.execute(insert(commands), row)

    samples = parse(inkwell.operations.exposition.render(None).decode())
    assert value(samples, "inkwell_database_errors_total", error="OperationalError") == 1
    assert total(samples, "inkwell_database_errors_total") == 1
    assert value(samples, "inkwell_projection_progress_unreadable") == 1


def test_open_websockets_are_counted(api: Api) -> None:
    client = api.client
    assert isinstance(client, TestClient)
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json() == {"type": "connection_ack"}
        assert value(scrape(client), "inkwell_websocket_connections") == 1
    deadline = time.monotonic() + 10
    while value(scrape(client), "inkwell_websocket_connections") != 0:
        assert time.monotonic() < deadline, "the closed WebSocket is still counted"
        time.sleep(0.05)


def test_the_subscription_gauge_follows_its_hook(api: Api) -> None:
    client = api.client
    assert isinstance(client, TestClient)
    metrics = client.app.state.operations.metrics  # type: ignore[attr-defined]
    with metrics.subscription(), metrics.subscription():
        assert value(scrape(client), "inkwell_graphql_subscriptions") == 2
    # A scrape is reused for up to a second (observability/recent_answer.py).
    until_true(lambda: value(scrape(client), "inkwell_graphql_subscriptions") == 0)


def _two_api_workers(settings: Settings, redis_url: str, tmp_path: Path) -> ServerProcess:
    """`api --workers 2`, its metrics summed in tmp_path/metrics."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": redis_url,
        "INKWELL_PREFIX": settings.prefix,
        "INKWELL_DATA_DIR": str(tmp_path / "data"),
        "INKWELL_SECRET": "shared-by-every-worker-of-this-test",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    return ServerProcess(env, tmp_path, command="api", args=["--workers", "2"])


def test_counters_add_up_across_api_workers(
    settings: Settings, redis_url: str, tmp_path: Path
) -> None:
    """With PROMETHEUS_MULTIPROC_DIR, whichever worker answers /metrics reports every
    worker's commands. Each request opens a new connection, so the kernel spreads them."""
    import httpx2 as httpx

    with _two_api_workers(settings, redis_url, tmp_path) as server:
        registered = 12
        for _ in range(registered):
            response = httpx.post(f"{server.url}/graphql", json={"query": REGISTER_TOKEN})
            assert response.status_code == 200 and "errors" not in response.json()
        for _ in range(6):
            samples = parse(httpx.get(f"{server.url}/metrics").text)
            ok = value(samples, "inkwell_commands_total", command="RegisterUser", outcome="ok")
            assert ok == registered
            appended = value(samples, "inkwell_events_appended_total", type="UserRegistered")
            assert appended == registered
        # Both workers keep their values there (each one's live gauges, at least).
        assert len(list((tmp_path / "metrics").glob("gauge_livesum_*.db"))) == 2


def test_a_killed_workers_live_gauges_leave_the_sum(
    settings: Settings, redis_url: str, tmp_path: Path
) -> None:
    """A worker killed with connections open (SIGKILL, the OOM killer) never marks its live
    gauges dead: /metrics summed them in for good (20 connections reported with 5 left)."""
    import contextlib
    import json

    import httpx2 as httpx
    import psutil
    from websockets.sync.client import connect
    from websockets.typing import Subprotocol

    with _two_api_workers(settings, redis_url, tmp_path) as server:
        assert server.process is not None
        with contextlib.ExitStack() as sockets:
            for _ in range(12):  # on either worker, as the kernel hands them out
                socket = sockets.enter_context(
                    connect(
                        f"ws://127.0.0.1:{server.port}/graphql",
                        subprotocols=[Subprotocol("graphql-transport-ws")],
                    )
                )
                socket.send(json.dumps({"type": "connection_init", "payload": {}}))
                socket.recv(timeout=10)
            assert value(parse(httpx.get(f"{server.url}/metrics").text),
                         "inkwell_websocket_connections") == 12  # fmt: skip
            held = {
                worker.pid: sum(
                    c.status == "ESTABLISHED" and c.laddr.port == server.port
                    for c in worker.net_connections()
                )
                for worker in psutil.Process(server.process.pid).children()
                if "spawn_main" in " ".join(worker.cmdline())
            }
            victim = max(held, key=lambda pid: held[pid])
            assert held[victim] > 0, held
            psutil.Process(victim).kill()

            def connections() -> float | None:
                """As the survivor or a new worker says, once uvicorn has reaped the dead."""
                with contextlib.suppress(httpx.TransportError):
                    samples = parse(httpx.get(f"{server.url}/metrics").text)
                    return value(samples, "inkwell_websocket_connections")
                return None

            until_true(lambda: connections() == 12 - held[victim], timeout=15)
