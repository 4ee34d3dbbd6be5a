"""Delivery latency of `post(id)` subscriptions held by one server process.

For each size (1,000 and 5,000 subscribers) and shape (all on one post, or
spread over 100 posts) it starts a real `python server.py serve` (one API
process, its projectors in a child process) on its own SQLite file and Redis
prefix, opens the subscriptions from client processes, then makes changes in
rounds. A round is one like per followed post, by a user who has not liked it
yet, sent over HTTP, so every round delivers one update to every subscriber.
The next round starts once they all arrived.

Latency runs from the moment the like is sent (so its commit, the projector
and the Redis read are included) to the moment a subscriber reads the update
off its socket. Run: `python -m bench.subscriptions [--quick]`.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from ctypes import c_longlong
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from pathlib import Path

import httpx2 as httpx
import psutil

from bench import report, subscribers
from harness.redis_keys import forget
from harness.server_process import ServerProcess

SPREAD_POSTS = 100
ROUND_TIMEOUT = 60.0
SUBSCRIBE_TIMEOUT = 300.0
PACKAGES = ("strawberry-graphql", "uvicorn", "websockets", "redis", "SQLAlchemy", "uvloop")

REGISTER = "mutation($i: RegisterUserInput!) { registerUser(input: $i) { token position } }"
CREATE = "mutation($i: CreatePostInput!) { createPost(input: $i) { postId } }"
PUBLISH = "mutation($i: PostCommandInput!) { publishPost(input: $i) { position } }"
LIKE = "mutation($i: PostCommandInput!) { likePost(input: $i) { position } }"
LAG = "{ projections { lag } }"


@dataclass(frozen=True)
class Scenario:
    subscribers: int
    posts: int
    rounds: int
    clients: int  # client processes
    burst: bool  # each client opens all its connections at once, not one after the other
    shared: bool = True  # False: each subscription named apart, one execution each
    workers: int = 1  # >1: `api --workers N` beside a `project` process, not `serve`

    @property
    def shape(self) -> str:
        return "one post" if self.posts == 1 else f"{self.posts} posts"

    @property
    def serving(self) -> str:
        """How the server ran and whether subscribers shared executions."""
        server = "serve" if self.workers == 1 else f"api --workers {self.workers}"
        return f"{server}, {'shared' if self.shared else 'per subscriber'}"


@dataclass
class Usage:
    """CPU seconds and RSS of a process, sampled with psutil."""

    cpu: float
    rss_mb: float

    @staticmethod
    def of(pid: int) -> Usage:
        """The process and its children (uvicorn's workers), added up."""
        process = psutil.Process(pid)
        processes = [process, *process.children(recursive=True)]
        cpu = rss = 0.0
        for each in processes:
            times = each.cpu_times()
            cpu += times.user + times.system
            rss += each.memory_info().rss / 2**20
        return Usage(cpu, rss)


@dataclass
class Result:
    scenario: Scenario
    connections: int
    subscribe_seconds: float
    latencies: list[float]  # seconds from sending the like to receipt, one per update delivered
    after_answer: list[float]  # seconds from the like's HTTP answer (its commit) to receipt
    answers: list[float]  # seconds from sending a like to its HTTP answer
    final_ok: int  # subscribers whose last item showed the final likeCount
    phase_seconds: float  # wall time of the change rounds
    server: tuple[Usage, Usage, Usage, Usage]  # idle, subscribed, before and after the rounds
    client_cpu: list[float]  # per client process, during the rounds
    client_error: str | None

    @property
    def expected(self) -> int:
        return self.scenario.subscribers * self.scenario.rounds

    @property
    def server_cpu(self) -> float:
        return self.server[3].cpu - self.server[2].cpu

    @property
    def bottleneck(self) -> str:
        """The side that spent more CPU during the rounds: the other one waited on it."""
        return "server" if self.server_cpu > max(self.client_cpu, default=0.0) else "client"


class Clients:
    """The client processes and the counters they share with this one."""

    def __init__(
        self,
        url: str,
        token: str,
        posts: list[str],
        count: int,
        processes: int,
        burst: bool,
        distinct: bool = False,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop = context.Event()
        self.counters: list[subscribers.Counters] = []
        self.processes: list[SpawnProcess] = []
        self.pipes: list[Connection] = []
        numbered = [(number, posts[number % len(posts)]) for number in range(count)]
        shares = [numbered[part::processes] for part in range(processes)]
        self.connections = sum(-(-len(share) // subscribers.PER_CONNECTION) for share in shares)
        for part, share in enumerate(shares):
            counters = subscribers.Counters(
                context.RawValue(c_longlong, 0), context.RawValue(c_longlong, 0)
            )
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(
                target=subscribers.run,
                args=(
                    subscribers.Assignment(url, token, share, burst, distinct),
                    counters,
                    self.stop,
                    sender,
                ),
                name=f"subscribers-{part}",
            )
            process.start()
            self.counters.append(counters)
            self.processes.append(process)
            self.pipes.append(receiver)

    def first(self) -> int:
        return sum(counter.first.value for counter in self.counters)

    def updates(self) -> int:
        return sum(counter.updates.value for counter in self.counters)

    def cpu(self) -> list[float]:
        return [Usage.of(process.pid).cpu for process in self.processes if process.pid]

    def alive(self) -> bool:
        return all(process.is_alive() for process in self.processes)

    async def wait(self, count: Callable[[], int], target: int, timeout: float, what: str) -> None:
        """Until count() reaches target; fails if a client process ends or time runs out."""
        deadline = time.monotonic() + timeout
        while count() < target:
            if not self.alive():
                raise RuntimeError(f"a client process ended while waiting for {what}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout:.0f} s for {what}: {count()} of {target}")
            await asyncio.sleep(0.005)

    def finish(self) -> tuple[list[subscribers.Receipt], str | None]:
        self.stop.set()
        receipts: list[subscribers.Receipt] = []
        error = None
        for pipe, process in zip(self.pipes, self.processes, strict=True):
            if pipe.poll(60):
                part, part_error = pipe.recv()
                receipts.extend(part)
                error = error or part_error
            else:
                error = error or f"{process.name} sent no results"
            process.join(30)
            if process.is_alive():
                process.kill()
        return receipts, error


class Driver:
    """Speaks to the server over HTTP: prepares users and posts, sends the likes."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def call(
        self,
        query: str,
        variables: dict[str, object],
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, object]:
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=sent
        )
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"{query.split('(')[0]} failed: {response.status_code} {body}")
        data: dict[str, object] = body["data"]
        return data

    async def register(self, name: str) -> str:
        data = await self.call(REGISTER, {"i": {"name": name}})
        return str(data["registerUser"]["token"])  # type: ignore[index]

    async def published_posts(self, token: str, count: int) -> list[str]:
        ids = []
        position = "0"
        for number in range(count):
            created = await self.call(
                CREATE, {"i": {"title": f"Post {number}", "content": "Text."}}, token
            )
            post_id = str(created["createPost"]["postId"])  # type: ignore[index]
            published = await self.call(PUBLISH, {"i": {"postId": post_id}}, token)
            position = str(published["publishPost"]["position"])  # type: ignore[index]
            ids.append(post_id)
        await self.call(
            LAG, {}, headers={"X-Consistent-With": position}
        )  # the read models hold them
        return ids

    async def like(self, token: str, post_id: str) -> tuple[float, float]:
        """The moment the like was sent, and the moment its answer (the commit) came back."""
        sent = time.monotonic()
        await self.call(LIKE, {"i": {"postId": post_id}}, token)
        return sent, time.monotonic()


Likes = dict[tuple[str, int], tuple[float, float]]  # (post, round) -> (sent, answered)


async def measure(scenario: Scenario, redis_url: str, scratch: Path) -> Result:
    prefix = f"bench-{uuid.uuid4().hex[:10]}"
    env = {
        "DATABASE_URL": f"sqlite:///{scratch / f'{prefix}.db'}",
        "REDIS_URL": redis_url,
        "INKWELL_PREFIX": prefix,
        "INKWELL_DATA_DIR": str(scratch / prefix),
        "INKWELL_CONSISTENCY_TIMEOUT": "30",
        "INKWELL_RATE_LIMITS": "off",  # one load generator, one address: no limits
    }
    projector = None
    if scenario.workers > 1:
        metrics = scratch / f"{prefix}-metrics"
        metrics.mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
        projector = ServerProcess(env, scratch, command="project").start(wait=False)
        server = ServerProcess(
            env, scratch, command="api", args=["--workers", str(scenario.workers)]
        )
    else:
        server = ServerProcess(env, scratch)
    try:
        with server:
            assert server.process is not None
            try:
                async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
                    return await _measure(scenario, Driver(http), server, server.process.pid)
            except Exception:
                print(first_error(server.log), file=sys.stderr)
                raise
    finally:
        if projector is not None:
            projector.stop()
        forget(redis_url, prefix)


async def _measure(scenario: Scenario, driver: Driver, server: ServerProcess, pid: int) -> Result:
    author = await driver.register("Author")
    posts = await driver.published_posts(author, scenario.posts)
    likers = [await driver.register(f"Reader {n}") for n in range(scenario.rounds)]
    idle = Usage.of(pid)
    started = time.monotonic()
    url = server.url.replace("http", "ws") + "/graphql"
    clients = Clients(
        url,
        author,
        posts,
        scenario.subscribers,
        scenario.clients,
        scenario.burst,
        distinct=not scenario.shared,
    )
    try:
        await clients.wait(clients.first, scenario.subscribers, SUBSCRIBE_TIMEOUT, "first items")
        subscribe_seconds = time.monotonic() - started
        subscribed = Usage.of(pid)
        await asyncio.sleep(0.5)  # let the subscribing work drain before measuring
        before, client_before = Usage.of(pid), clients.cpu()
        phase = time.monotonic()
        likes = await rounds(scenario, driver, clients, posts, likers)
        phase_seconds = time.monotonic() - phase
        after, client_after = Usage.of(pid), clients.cpu()
    finally:
        receipts, error = clients.finish()
    latencies, after_answer, final_ok = score(receipts, likes, scenario)
    return Result(
        scenario,
        clients.connections,
        subscribe_seconds,
        latencies,
        after_answer,
        [answered - sent for sent, answered in likes.values()],
        final_ok,
        phase_seconds,
        (idle, subscribed, before, after),
        [end - start for start, end in zip(client_before, client_after, strict=True)],
        error,
    )


async def rounds(
    scenario: Scenario, driver: Driver, clients: Clients, posts: list[str], likers: list[str]
) -> Likes:
    """Each round: every followed post liked once, together; then every update received."""
    likes: Likes = {}
    for round_ in range(1, scenario.rounds + 1):
        answers = await asyncio.gather(*(driver.like(likers[round_ - 1], post) for post in posts))
        likes.update({(post, round_): answer for post, answer in zip(posts, answers, strict=True)})
        expected = round_ * scenario.subscribers
        await clients.wait(clients.updates, expected, ROUND_TIMEOUT, f"round {round_}")
    return likes


def score(
    receipts: list[subscribers.Receipt], likes: Likes, scenario: Scenario
) -> tuple[list[float], list[float], int]:
    """For every update that shows a like's likeCount: its latency from the like's sending
    and from its answer. And how many subscribers ended on the final state."""
    latencies, after_answer = [], []
    last: dict[int, tuple[float, int]] = {}
    for subscriber, post, like_count, received in receipts:
        if (post, like_count) in likes:
            sent, answered = likes[(post, like_count)]
            latencies.append(received - sent)
            after_answer.append(received - answered)
        if subscriber not in last or received >= last[subscriber][0]:
            last[subscriber] = (received, like_count)
    final_ok = sum(1 for _, count in last.values() if count == scenario.rounds)
    return latencies, after_answer, final_ok


def first_error(log: Path) -> str:
    """The server log from its first error on, shortened: why a run failed. The server
    logs JSON lines when its stderr is not a terminal, text otherwise."""
    text = log.read_text(errors="replace")
    found = [at for at in (text.find('"level":"ERROR"'), text.find(" ERROR ")) if at >= 0]
    start = min(found, default=-1)
    return "server log: " + (text[max(0, start - 200) : start + 4000] if found else "no ERROR")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]
        if ordered
        else float("nan")
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}" if seconds >= 0.01 else f"{seconds * 1000:.1f}"


DELIVERY = [
    "subscribers",
    "shape",
    "server, executions",
    "WebSocket conns",
    "subscribe s",
    "delivered / expected",
    "final state",
    "like answered p50 ms",
    "p50 ms",
    "p99 ms",
    "max ms",
    "after answer p50 ms",
    "after answer p99 ms",
]
COST = [
    "subscribers",
    "shape",
    "server, executions",
    "server CPU s in rounds",
    "per round ms",
    "server busy",
    "server RSS MB idle → subscribed → after",
    "KB per subscriber",
    "client CPU s per process",
    "bottleneck",
]


def delivery_row(result: Result) -> list[str]:
    s = result.scenario
    return [
        f"{s.subscribers:,}",
        s.shape,
        s.serving,
        str(result.connections),
        f"{result.subscribe_seconds:.1f}",
        f"{len(result.latencies):,} / {result.expected:,}",
        f"{result.final_ok:,} / {s.subscribers:,}",
        ms(percentile(result.answers, 0.5)),
        ms(percentile(result.latencies, 0.5)),
        ms(percentile(result.latencies, 0.99)),
        ms(max(result.latencies, default=float("nan"))),
        ms(percentile(result.after_answer, 0.5)),
        ms(percentile(result.after_answer, 0.99)),
    ]


def cost_row(result: Result) -> list[str]:
    s = result.scenario
    idle, subscribed, _, after = result.server
    return [
        f"{s.subscribers:,}",
        s.shape,
        s.serving,
        f"{result.server_cpu:.2f}",
        f"{result.server_cpu / s.rounds * 1000:,.0f}",
        f"{result.server_cpu / result.phase_seconds:.0%}",
        f"{idle.rss_mb:.0f} → {subscribed.rss_mb:.0f} → {after.rss_mb:.0f}",
        f"{(subscribed.rss_mb - idle.rss_mb) * 1024 / s.subscribers:.0f}",
        " / ".join(f"{cpu:.2f}" for cpu in result.client_cpu),
        result.bottleneck
        + (f" (client error: {result.client_error})" if result.client_error else ""),
    ]


def summary_rows(results: list[Result]) -> list[report.Row]:
    """Issue 11's row: 5,000 subscribers of one post on one process, p99 under 250 ms;
    and the same over api --workers."""
    rows = []

    def p99(shared: bool, workers: int) -> float | None:
        for result in results:
            s = result.scenario
            if (s.subscribers, s.posts, s.shared, s.workers) == (5_000, 1, shared, workers):
                return percentile(result.latencies, 0.99)
        return None

    baseline = p99(False, 1)
    for workers in (1, 2):
        shared = p99(True, workers)
        if shared is None:
            continue
        where = "one API process, `serve`" if workers == 1 else f"api --workers {workers}"
        rows.append(
            report.Row(
                measure=f"5,000 subscribers of one post ({where}), delivery p99",
                inkwell=f"{ms(shared)} ms shared",
                reference=f"{ms(baseline)} ms, one execution each" if baseline else "",
                ratio=f"p99 {ms(shared)} ms",
                target="p99 < 250 ms",
                met=shared < 0.25,
            )
        )
    return rows


def document(results: list[Result], args: argparse.Namespace, machine: str, took: float) -> str:
    opening = (
        "Each client process opens all its connections at once"
        if args.burst
        else "Each client process opens its connections one after the other, the next once "
        "the previous one's subscriptions have all sent their first item"
    )
    return f"""## Subscriptions: delivery latency from command to subscriber

`python -m bench.subscriptions`, {report.today()}, took {took / 60:.1f} min.
Machine: {machine}.

One `python server.py serve` process (SQLite, the machine's Redis) holds every
subscription. {args.clients} client processes open them over graphql-transport-ws,
at most {subscribers.PER_CONNECTION} per WebSocket connection, each selecting
`post(id) {{ id likeCount commentCount title author {{ name }} }}`. {opening}. Then {args.rounds}
rounds of likes: a round is one like per followed post (1 or {SPREAD_POSTS} HTTP
mutations sent together), each by a user who has not liked that post, so that
every subscriber gets one update per round. A round starts once the previous one
was fully delivered.

Latency runs from sending the like (its commit included) to the subscriber reading
the update off its socket; "after answer" runs from the like's HTTP answer, which
comes once it is committed. "Final state" counts subscribers whose last item
showed the final likeCount.

{report.table(DELIVERY, [delivery_row(result) for result in results])}

Server CPU is counted over the rounds only; "busy" is that CPU time over the
rounds' wall time (100% is one core). The bottleneck is the side that spent more
CPU during the rounds.

{report.table(COST, [cost_row(result) for result in results])}
"""


async def run(args: argparse.Namespace) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory(prefix="inkwell-bench-") as scratch:
        for size, posts, shared, workers in args.plan:
            scenario = Scenario(size, posts, args.rounds, args.clients, args.burst, shared, workers)
            print(f"{size:,} subscribers on {scenario.shape}, {scenario.serving} ...", flush=True)
            result = await measure(scenario, args.redis_url, Path(scratch))
            for header, cells in ((DELIVERY, delivery_row(result)), (COST, cost_row(result))):
                print("  " + ", ".join(f"{h}: {c}" for h, c in zip(header, cells, strict=True)))
            results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="200 and 1,000 subscribers, 4 rounds; docs untouched"
    )
    parser.add_argument("--clients", type=int, default=2, help="client processes (default 2)")
    parser.add_argument(
        "--burst",
        action="store_true",
        help="each client opens all its connections at once (a reconnect storm); docs untouched",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    # (subscribers, posts, shared, api workers): each size once per subscriber and once
    # shared, side by side; then the shared server on 100 posts and over two workers.
    args.plan, args.rounds = (
        ([(200, 1, False, 1), (200, 1, True, 1), (1_000, 1, False, 1), (1_000, 1, True, 1)], 4)
        if args.quick
        else (
            [
                (1_000, 1, False, 1),
                (1_000, 1, True, 1),
                (5_000, 1, False, 1),
                (5_000, 1, True, 1),
                (5_000, SPREAD_POSTS, True, 1),
                (5_000, 1, True, 2),
            ],
            10,
        )
    )
    machine = report.machine(PACKAGES)
    print(f"{report.today()}\n{machine}\n", flush=True)
    started = time.monotonic()
    results = asyncio.run(run(args))
    text = document(results, args, machine, time.monotonic() - started)
    print("\n" + text)
    if not (args.quick or args.burst):
        print(f"written to {report.write_section('subscriptions', text)}")
        print(f"written to {report.write_summary('subscriptions', summary_rows(results))}")


if __name__ == "__main__":
    main()
