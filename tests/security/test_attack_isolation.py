"""One client attacks (fragment bombs, costly queries, body floods, subscribe and
connection floods); a second client's post(id) stays fast and the projectors keep
their leases. Measured against a real server process with its default limits.

The attack is bounded in count and time: hundreds of hostile requests in 12 s, each of
which cost the server seconds or gigabytes before the limits. (A flood of cheap requests
at line rate is a volumetric attack, for the network in front of any server.) The attack
runs in a process of its own, so the victim's timings do not wait on the attacker's
threads. The victim reads from another loopback address (127.0.0.2), as a second client
would: the attacker's address is the one rate-limited.
The bound is the issue's 200 ms p99, or twice the victim's own p99 measured just before
the attack on this machine when that is higher (a loaded 2-core CI box).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import socket
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

import httpx2 as httpx
import websockets

from harness.server_process import ServerProcess
from tests.support import operations as ops
from tests.support.costly_queries import COSTLY, FRAGMENT_BOMB
from tests.support.protected_server import StartServer
from wiring.bootstrap import PROJECTIONS

ATTACK_SECONDS = 12.0
P99_BOUND = 0.200
# The victim's read: a post with its author and counts, as a page shows one. (With all of
# POST_FIELDS, `tags` counts as a full page of 100, and a victim reading every 10 ms
# spent its own query-cost budget within the test.)
VICTIM_READ = "query($id: ID!) { post(id: $id) { id title author { name } likeCount } }"


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def victim_latencies(server: ServerProcess, post_id: str, stop: threading.Event) -> list[float]:
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    samples: list[float] = []
    with httpx.Client(base_url=server.url, transport=transport, timeout=30) as client:
        while not stop.is_set() or len(samples) < 100:
            started = time.perf_counter()
            body = client.post(
                "/graphql", json={"query": VICTIM_READ, "variables": {"id": post_id}}
            ).json()
            samples.append(time.perf_counter() - started)
            assert body["data"]["post"]["id"] == post_id, body
            time.sleep(0.01)
    return samples


def bounded(attack: Callable[[], None], count: int, deadline: float) -> Callable[[], None]:
    """Runs the attack `count` times, spread over the attack's window, or until its end."""

    def run() -> None:
        pause = ATTACK_SECONDS / count
        for _ in range(count):
            if time.monotonic() >= deadline:
                return
            attack()
            time.sleep(pause)

    return run


def query_flood(server: Server, query: str) -> Callable[[], None]:
    client = httpx.Client(base_url=server.url, timeout=30)

    def send() -> None:
        client.post("/graphql", json={"query": query})

    return send


def body_flood(server: Server) -> Callable[[], None]:
    chunk = b"x" * 65536

    def send() -> None:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
            connection.sendall(
                b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            try:
                for _ in range(320):  # 20 MB each
                    connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                pass  # refused with 413 and closed

    return send


def subscribe_flood(server: Server) -> Callable[[], None]:
    query = 'subscription { post(id: "x") { comments(first: 100) { edges { node { id } } } } }'

    async def flood() -> None:
        try:
            async with websockets.connect(
                f"ws://127.0.0.1:{server.port}/graphql",
                subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            ) as connection:
                await connection.send(json.dumps({"type": "connection_init", "payload": {}}))
                for n in range(300):
                    await connection.send(
                        json.dumps({"id": str(n), "type": "subscribe", "payload": {"query": query}})
                    )
                await asyncio.wait_for(connection.wait_closed(), timeout=5)
        except (OSError, websockets.exceptions.WebSocketException, TimeoutError):
            pass  # refused: what the flood should get

    return lambda: asyncio.run(flood())


def connection_flood(server: Server) -> Callable[[], None]:
    """More WebSocket connections than one address may hold, held open a moment."""

    async def flood() -> None:
        opened = []
        for _ in range(60):
            with contextlib.suppress(OSError, websockets.exceptions.WebSocketException):
                # Over the per-address limit the handshake is refused.
                opened.append(await websockets.connect(f"ws://127.0.0.1:{server.port}/graphql"))
        for connection in opened:
            await connection.close()

    return lambda: asyncio.run(flood())


@dataclass(frozen=True)
class Server:
    """What the attacking process needs to know of the server (picklable)."""

    url: str
    port: int


def attack(server: Server, ready: EventType) -> None:
    """The attacker's process: every attack at once, each bounded in count and time."""
    ready.set()  # imports done: the interpreter's start-up is not part of the attack
    deadline = time.monotonic() + ATTACK_SECONDS
    attacks = [
        bounded(query_flood(server, FRAGMENT_BOMB), 30, deadline),
        bounded(query_flood(server, COSTLY), 30, deadline),
        bounded(body_flood(server), 5, deadline),
        bounded(subscribe_flood(server), 2, deadline),
        bounded(connection_flood(server), 1, deadline),
    ]
    threads = [threading.Thread(target=run, daemon=True) for run in attacks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=ATTACK_SECONDS + 30)


def test_an_attack_leaves_a_second_client_fast_and_the_projectors_leased(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server()  # default limits, rate limits on
    with httpx.Client(base_url=server.url, timeout=30) as client:
        author = client.post(
            "/graphql", json={"query": ops.REGISTER, "variables": {"input": {"name": "Ann"}}}
        ).json()["data"]["registerUser"]
        headers = {"Authorization": f"Bearer {author['token']}"}
        post_id = client.post(
            "/graphql",
            json={"query": ops.CREATE_POST, "variables": {"input": {"title": "T", "content": "C"}}},
            headers=headers,
        ).json()["data"]["createPost"]["post"]["id"]
        published = client.post(
            "/graphql",
            json={"query": ops.PUBLISH_POST, "variables": {"input": {"postId": post_id}}},
            headers=headers,
        ).json()["data"]["publishPost"]
        client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"X-Consistent-With": str(published["position"])},
        )

    calm = threading.Event()
    calm.set()
    baseline = victim_latencies(server, post_id, calm)

    spawn = multiprocessing.get_context("spawn")
    ready = spawn.Event()
    attacker = spawn.Process(target=attack, args=(Server(server.url, server.port), ready))
    stop = threading.Event()
    attacker.start()
    assert ready.wait(timeout=60)
    timer = threading.Timer(ATTACK_SECONDS, stop.set)
    timer.start()
    during = victim_latencies(server, post_id, stop)
    attacker.join(timeout=60)
    assert attacker.exitcode == 0

    bound = max(P99_BOUND, 2 * p99(baseline))
    print(
        f"victim post(id): {len(baseline)} calm, p99 {p99(baseline) * 1000:.1f} ms; "
        f"{len(during)} under attack, p99 {p99(during) * 1000:.1f} ms; bound {bound * 1000:.0f} ms"
    )
    assert p99(during) < bound

    # The projectors kept their leases: none was lost or restarted, and they still apply
    # new events.
    log = server.log.read_text()
    assert "lease lost" not in log and " stopped (" not in log, log[-3000:]
    assert log.count("this process runs it") == len(PROJECTIONS)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        created = client.post(
            "/graphql",
            json={"query": ops.CREATE_POST, "variables": {"input": {"title": "U", "content": "C"}}},
            headers=headers,
        ).json()["data"]["createPost"]
        seen = client.post(
            "/graphql",
            json={"query": ops.POST, "variables": {"id": created["post"]["id"]}},
            headers={**headers, "X-Consistent-With": str(created["position"])},
        ).json()
    assert seen["data"]["post"]["title"] == "U", seen
