"""Projection lag: from a command's acknowledgement to its effect being readable in Redis.

An in-process Inkwell (`wiring.bootstrap.running` without projectors: the real
group-commit writer on SQLite with synchronous=FULL and the publisher, on uvloop)
receives commands at a fixed offered rate, open loop (a command is sent every
1/rate s whether or not the previous ones are done): createPost, likePost and
addComment in turn, by 50 users, on 50 published posts. The projectors run two
ways, side by side at each rate: as `serve` runs them, in a process of their own
(`python server.py project`, on the same log and Redis), and in the process that
takes the commands (as `running()` runs them by default; `serve` did until it
split). A listener on the projectors' checkpoint channel notes when each
projection's checkpoint passes each position.

A command's lag runs from its acknowledgement (the commit is durable and the bus has
answered) to the first checkpoint notice of the `posts` projection at or past its
position: from then on, a read of the post sees it. "Every projection" waits
for all of them. Commands go through the bus, not HTTP: on 2 cores the HTTP layer of
500 createPost/s would need more CPU than the machine has (bench/http_throughput.py).
Run: `python -m bench.projection_lag [--quick]`.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import psutil
import uvloop
from redis.asyncio import Redis

from bench import report
from bench.private_redis import private_redis
from domain.bus import Caller
from domain.commands import AddComment, CreatePost, LikePost, PublishPost, RegisterUser
from harness.redis_keys import forget
from harness.server_process import ServerProcess
from infra.settings import Settings
from projections.keyspace.keys import Keys
from wiring import heap
from wiring.bootstrap import PROJECTIONS, running

PACKAGES = ("SQLAlchemy", "redis", "hiredis", "uvloop")
RATES = (100, 500)
TARGET_P99_MS = 10.0
USERS = 50
NAMES = tuple(projection.name for projection in PROJECTIONS)


TOPOLOGIES = ("own process (serve)", "same process")


@dataclass
class Run:
    rate: int
    topology: str
    offered: int = 0
    acknowledged: dict[int, float] = field(default_factory=dict)  # position -> when
    failed: int = 0
    cpu: float = 0.0  # seconds of CPU (both processes, every thread) while commands were sent
    wall: float = 0.0
    reached: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # checkpoints

    def lags(self, names: tuple[str, ...]) -> list[float]:
        """Seconds from acknowledgement to every named projection passing the position."""
        firsts = {name: self.reached.get(name, []) for name in names}
        lags = []
        for position, acked in self.acknowledged.items():
            seen = [next((at for p, at in firsts[n] if p >= position), None) for n in names]
            if all(at is not None for at in seen):
                lags.append(max(at for at in seen if at is not None) - acked)
        return lags


async def listen(client: Redis, channel: str, run: Run, ready: asyncio.Event) -> None:
    async with client.pubsub() as pubsub:
        await pubsub.subscribe(channel)
        ready.set()
        async for message in pubsub.listen():
            if message["type"] != "message":
                continue
            notice = orjson.loads(message["data"])
            if notice.get("projection") in NAMES:
                run.reached.setdefault(notice["projection"], []).append(
                    (notice["position"], time.perf_counter())
                )


async def measure(
    settings: Settings, rate: int, topology: str, seconds: float, scratch: Path
) -> Run:
    """One rate's run; `topology` says where the projectors run (TOPOLOGIES)."""
    if topology == TOPOLOGIES[1]:
        return await _measure(settings, Run(rate, topology), seconds, projector=None)
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "INKWELL_PREFIX": settings.prefix,
        "INKWELL_DATA_DIR": str(settings.data_dir),
    }
    projectors = ServerProcess(env, scratch, command="project").start(wait=False)
    try:
        assert projectors.process is not None
        projector = psutil.Process(projectors.process.pid)
        return await _measure(settings, Run(rate, topology), seconds, projector)
    finally:
        projectors.close()


async def _measure(
    settings: Settings, run: Run, seconds: float, projector: psutil.Process | None
) -> Run:
    rate = run.rate

    def cpu_seconds() -> float:
        return time.process_time() + (sum(projector.cpu_times()[:2]) if projector else 0.0)

    async with running(settings, projectors=projector is None) as inkwell:
        bus = inkwell.services.bus
        users = []
        for n in range(USERS):
            outcome = await bus.dispatch(RegisterUser(f"User {n}"), Caller(None, "bench"))
            users.append(Caller(outcome.ids["user_id"], "bench"))
        posts = []
        for user in users:
            made = await bus.dispatch(CreatePost("Post", "Text."), user)
            published = await bus.dispatch(PublishPost(made.ids["post_id"]), user)
            posts.append(made.ids["post_id"])
        await caught_up(inkwell.redis, inkwell.keys, published.position)
        listener = Redis.from_url(settings.redis_url or "", decode_responses=True)
        ready = asyncio.Event()
        listening = asyncio.create_task(
            listen(listener, inkwell.keys.checkpoints_channel(), run, ready)
        )
        await ready.wait()
        heap.settle()  # as a server process does once started

        async def one(n: int) -> None:
            user, post = users[n % USERS], posts[(n * 7) % USERS]
            command = (
                CreatePost(f"Post {n}", "Text."), LikePost(post), AddComment(post, f"Comment {n}")
            )[n % 3]  # fmt: skip
            if isinstance(command, LikePost):
                user = users[(n // 3 + n // (3 * USERS)) % USERS]
            try:
                outcome = await bus.dispatch(command, user)
            except Exception:  # a user liking twice: counted, not fatal
                run.failed += 1
                return
            run.acknowledged[outcome.position] = time.perf_counter()

        tasks = []
        cpu = cpu_seconds()
        started = time.perf_counter()
        count = int(rate * seconds)
        for n in range(count):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(n)))
        run.offered = count
        await asyncio.gather(*tasks)
        run.wall = time.perf_counter() - started
        run.cpu = cpu_seconds() - cpu
        await asyncio.sleep(1.0)  # the last checkpoints arrive
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        await listener.aclose()
    return run


async def caught_up(redis: Redis, keys: Keys, position: int) -> None:
    """Returns once every projection's checkpoint is at `position` (the projectors have
    started and applied the set-up commands)."""
    deadline = time.monotonic() + 120
    checkpoints = [keys.checkpoint(name) for name in NAMES]
    while not all(int(c or 0) >= position for c in await redis.mget(checkpoints)):
        assert time.monotonic() < deadline, "the projectors did not catch up"
        await asyncio.sleep(0.05)


def ms(values: list[float], share: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000:.1f}"


async def run_all(args: argparse.Namespace, scratch: Path) -> list[Run]:
    runs = []
    for rate in RATES:
        for topology in TOPOLOGIES:
            prefix = f"bench-lag-{uuid.uuid4().hex[:8]}"
            settings = Settings(
                database_url=f"sqlite:///{scratch / f'{prefix}.db'}", redis_url=args.redis_url,
                prefix=prefix, host="127.0.0.1", port=0, data_dir=scratch / prefix,
                signing_key=b"bench", consistency_timeout=30.0,
            )  # fmt: skip
            try:
                run = await measure(settings, rate, topology, args.seconds, scratch)
            finally:
                forget(args.redis_url, prefix)
            posts = run.lags(("posts",))
            print(
                f"  {rate}/s offered, projectors in {topology}: {len(run.acknowledged):,} "
                f"acknowledged, posts lag p50 {ms(posts, 0.5)} ms p99 {ms(posts, 0.99)} ms; "
                f"{len(run.acknowledged) / run.wall:,.0f}/s acknowledged; "
                f"CPU {run.cpu / run.wall:.0%} of a core",
                flush=True,
            )
            runs.append(run)
    return runs


def document(runs: list[Run], args: argparse.Namespace, machine: str, took: float) -> str:
    rows = []
    for run in runs:
        posts, every = run.lags(("posts",)), run.lags(NAMES)
        rows.append(
            [
                f"{run.rate}", run.topology, f"{run.offered:,}", f"{len(run.acknowledged):,}",
                f"{run.failed}",
                ms(posts, 0.5), ms(posts, 0.99), f"{max(posts, default=0) * 1000:.1f}",
                ms(every, 0.5), ms(every, 0.99), f"{run.cpu / run.wall:.0%}",
                f"{run.cpu / max(1, len(run.acknowledged)) * 1e6:,.0f}",
            ]
        )  # fmt: skip
    header = [
        "commands/s offered", "projectors in", "sent", "acknowledged", "refused",
        "posts p50 ms", "posts p99 ms", "posts max ms",
        "every projection p50 ms", "every projection p99 ms",
        "CPU, every process (100% = a core)", "CPU µs per command (projections included)",
    ]  # fmt: skip
    intro = __doc__.split("\n\n", 1)[1].rsplit("Run:", 1)[0].strip()
    return f"""## Projection lag: acknowledged to readable in Redis

`python -m bench.projection_lag`, {report.today()}, took {took / 60:.1f} min.
Machine: {machine}.

{intro}

Each rate and topology ran {args.seconds:g} s. Target: posts p99 under {TARGET_P99_MS:g} ms at
500/s, with the projectors where `serve` runs them.

{report.table(header, rows)}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per rate; docs untouched")
    parser.add_argument("--redis-url", help="default: a redis-server of its own")
    args = parser.parse_args()
    args.seconds = 3.0 if args.quick else 10.0
    machine = report.machine(PACKAGES)
    print(f"{report.today()}\n{machine}\n", flush=True)
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="inkwell-lag-") as scratch,
        private_redis(args.redis_url) as args.redis_url,
    ):
        runs = uvloop.run(run_all(args, Path(scratch)))
    text = document(runs, args, machine, time.monotonic() - started)
    print("\n" + text)
    if not args.quick:
        print(f"written to {report.write_section('projection_lag', text)}")
        at_500, reference = (
            next(r for r in runs if (r.rate, r.topology) == (500, where)).lags(("posts",))
            for where in TOPOLOGIES
        )
        p99 = float(ms(at_500, 0.99)) if at_500 else float("inf")
        report.write_summary("projection_lag", [report.Row(
            measure="commit to readable (posts checkpoint), 500 commands/s offered",
            inkwell=f"p50 {ms(at_500, 0.5)} ms, p99 {ms(at_500, 0.99)} ms",
            reference=f"projectors in the same process: p99 {ms(reference, 0.99)} ms",
            ratio=f"p99 {p99:.1f} ms", target=f"p99 < {TARGET_P99_MS:g} ms",
            met=p99 < TARGET_P99_MS,
        )])  # fmt: skip


if __name__ == "__main__":
    main()
