"""Rebuild speed: the log read once, decoded once, every projection fed; `verify` at scale.

One run, side by side, on one SQLite log of N events (a busy blog's mix, see
bench/sample_log.py) and one private redis-server:

- the log's read-only decode rate: Inkwell's LogReader reading the whole log in the
  rebuild's batches and decoding every event, writing nothing (the ceiling a
  rebuild could reach);
- the rebuild: `Rebuild` filling new spaces for every projection (every read
  model written) and swapping them in, as `inkwell rebuild` does;
- verify's compare step: a second full replay into scratch spaces, then the
  streaming key-by-key comparison of both, in keys compared per second;
- the peer: the eventsourcing library's SQLite application reading back and
  decoding N events of its own log (select_notifications + mapper), the rate
  issue 11 names as the target.

Everything runs with the collector set as `inkwell rebuild` sets it
(wiring/heap.py: the young generation's threshold raised), the peer too. Then the
rebuild runs again under yappi, and the functions that cost most are listed.
Run: `python -m bench.rebuild [--events N] [--quick]`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop
from redis.asyncio import Redis

from bench import report, sample_log
from bench.private_redis import private_redis
from eventstore.engines import open_engines
from eventstore.log_reader import LogReader
from projections.keyspace.keys import Keys
from projections.projectors.rebuild import BUILD_BATCH, RECOMPUTE_EVERY, Rebuild
from projections.projectors.scripts import Scripts
from projections.tools.verify import compare, drop, replay
from wiring import heap
from wiring.bootstrap import PROJECTIONS

PACKAGES = ("redis", "SQLAlchemy", "orjson", "eventsourcing", "uvloop", "yappi")
NAMES = [projection.name for projection in PROJECTIONS]
TARGET = 30_000
MILLION = 1_000_000


async def decode_rate(reader: LogReader) -> float:
    started, position, count = time.perf_counter(), 0, 0
    while events := await reader.read_all(after=position, limit=BUILD_BATCH):
        position, count = events[-1].position, count + len(events)
    return count / (time.perf_counter() - started)


@dataclass(frozen=True)
class Rebuilt:
    rate: float  # events/s
    keys: int  # Redis keys written
    commands_per_event: float
    # Per event: wall time, this process's CPU (every thread: the log's reads too) and
    # the Redis server's. The two run on their own cores, so the rebuild goes as fast
    # as the busier of the two lets it.
    wall_us: float
    python_us: float
    redis_us: float


async def rebuild_rate(redis: Redis, reader: LogReader, keys: Keys) -> Rebuilt:
    head = await reader.head_position()
    commands, redis_cpu = await _commands_processed(redis), await _cpu_seconds(redis)
    started, python_cpu = time.perf_counter(), time.process_time()
    build = Rebuild(redis, keys, Scripts.register(redis), reader, PROJECTIONS)
    swapped = await build.run()
    took, python_cpu = time.perf_counter() - started, time.process_time() - python_cpu
    redis_cpu = await _cpu_seconds(redis) - redis_cpu
    per_event = (await _commands_processed(redis) - commands) / head
    await build.delete_old(swapped, grace=0)
    assert swapped.position == head
    return Rebuilt(
        head / took, await redis.dbsize(), per_event,
        took / head * 1e6, python_cpu / head * 1e6, redis_cpu / head * 1e6,
    )  # fmt: skip


async def _commands_processed(redis: Redis) -> int:
    return int((await redis.info("stats"))["total_commands_processed"])


async def _cpu_seconds(redis: Redis) -> float:
    """The Redis server's CPU time so far, its own and the kernel's on its behalf."""
    cpu = await redis.info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


async def verify_rate(redis: Redis, reader: LogReader, keys: Keys) -> tuple[float, int, float]:
    """(keys compared per second, keys compared, seconds of the replay before it)."""
    started = time.perf_counter()
    scratch = await replay(redis, reader, keys, PROJECTIONS)
    replayed = time.perf_counter() - started
    try:
        started = time.perf_counter()
        result = await compare(redis, keys, scratch, NAMES)
        took = time.perf_counter() - started
    finally:
        await drop(redis, scratch, NAMES)
    assert result.differences == [], result.differences[:3]
    return result.keys / took, result.keys, replayed


def peer_rate(directory: Path, count: int) -> float:
    """The eventsourcing library reading and decoding `count` events of its own log."""
    from bench.eventsourcing_peer import Post, open_blog

    blog = open_blog(directory / "peer.db")
    try:
        per_post = 10
        for start in range(0, count, 10_000):
            posts = []
            for _ in range(start, min(count, start + 10_000), per_post):
                post = Post("Title", "Text.")
                for n in range(per_post - 1):
                    post.update(f"Edit {n}", "Text.")
                posts.append(post)
            blog.save(*posts)
        started, position, read = time.perf_counter(), 1, 0
        while notifications := blog.recorder.select_notifications(position, BUILD_BATCH):
            for notification in notifications:
                blog.mapper.to_domain_event(notification)
            position, read = notifications[-1].id + 1, read + len(notifications)
        return read / (time.perf_counter() - started)
    finally:
        blog.close()


async def profiled_rebuild(redis: Redis, reader: LogReader, keys: Keys) -> str:
    import yappi

    yappi.set_clock_type("cpu")
    yappi.start(builtins=True)
    try:
        await rebuild_rate(redis, reader, keys)
    finally:
        yappi.stop()
    stats = sorted(yappi.get_func_stats(), key=lambda s: s.tsub, reverse=True)[:12]
    total = sum(s.tsub for s in yappi.get_func_stats())
    rows = [
        [f"`{s.module.rsplit('/', 1)[-1]}:{s.lineno} {s.name}`", f"{s.tsub:.2f}",
         f"{s.tsub / total:.0%}", f"{s.ncall:,}"]
        for s in stats
    ]  # fmt: skip
    yappi.clear_stats()
    return report.table(["function (own time)", "CPU s", "share", "calls"], rows)


async def measure(directory: Path, events: int) -> dict[str, object]:
    url = sample_log.write(directory / "events.db", events)
    engines = open_engines(url)
    reader = LogReader(engines.reader)
    figures: dict[str, object] = {"events": events}
    try:
        with private_redis() as redis_url:
            redis = Redis.from_url(redis_url, decode_responses=True)
            keys = Keys(f"bench-{uuid.uuid4().hex[:6]}")
            figures["decode"] = await decode_rate(reader)
            print(f"  log read + decode: {figures['decode']:,.0f} events/s", flush=True)
            rebuilt = await rebuild_rate(redis, reader, keys)
            figures.update(
                rebuild=rebuilt.rate, redis_keys=rebuilt.keys,
                commands_per_event=rebuilt.commands_per_event, wall_us=rebuilt.wall_us,
                python_us=rebuilt.python_us, redis_us=rebuilt.redis_us,
            )  # fmt: skip
            print(
                f"  rebuild, {len(NAMES)} projections: {rebuilt.rate:,.0f} events/s; per event "
                f"{rebuilt.wall_us:.1f} µs, CPU {rebuilt.python_us:.1f} µs here and "
                f"{rebuilt.redis_us:.1f} in Redis",
                flush=True,
            )
            figures["compare"], figures["compared"], figures["replay_s"] = await verify_rate(
                redis, reader, keys
            )
            print(f"  verify compare: {figures['compare']:,.0f} keys/s", flush=True)
            figures["profile"] = await profiled_rebuild(redis, reader, keys)
            await redis.aclose()
    finally:
        engines.dispose()
    figures["peer"] = peer_rate(directory, events)
    print(f"  eventsourcing read + decode: {figures['peer']:,.0f} events/s", flush=True)
    return figures


def document(figures: dict[str, Any], machine: str, took: float) -> str:
    f = figures
    events, decode, rebuild = int(f["events"]), float(f["decode"]), float(f["rebuild"])
    peer, compare_rate, compared = float(f["peer"]), float(f["compare"]), int(f["compared"])
    rows = [
        ["Inkwell: log read + decode only", f"{decode:,.0f}", f"{decode / peer:.2f}"],
        ["Inkwell: rebuild of every projection, every read model written",
         f"{rebuild:,.0f}", f"{rebuild / peer:.2f}"],
        ["eventsourcing 9.5.6: its log read + decode", f"{peer:,.0f}", "1.00"],
    ]  # fmt: skip
    minutes = MILLION / compare_rate / 60
    return f"""# Rebuild and verify at scale

`python -m bench.rebuild --events {events}`, {report.today()}, took {took / 60:.1f} min.
Machine: {machine}.

{__doc__.split(chr(10) + chr(10), 1)[1].rsplit("Then the rebuild", 1)[0].strip()}

## Rebuild: {events:,} events (target: at least {TARGET:,} events/s)

{report.table(["measure", "events/s", "÷ eventsourcing read + decode"], rows)}

{_bound(f)}

The rebuild wrote {int(f["redis_keys"]):,} Redis keys (every read model of every
projection) and reached {rebuild / decode:.0%} of the rate at which the log can merely be read
and decoded. It sends {float(f["commands_per_event"]):.1f} Redis commands per event (all
projections together), queued as tuples, packed by hiredis and sent in one write per batch
of {BUILD_BATCH:,} events, their replies parsed in bulk
(projections/redisio/bulk_pipeline.py); the next batch is queued while Redis applies
the last, so Python and Redis work at once. A post's top comments and the recent events'
cut are recomputed once per post every {RECOMPUTE_EVERY:,} events, not after every comment
and event (projections/projectors/tx.py, Recomputes). Redis spends most of its share in
the projections' Lua scripts; folding other changes per key is not done (the likes and
comments of this mix fall on posts drawn uniformly from thousands).

## verify's compare step

{compared:,} keys compared (both sides) at {compare_rate:,.0f} keys/s, a SCAN page at a
time with two pipelined round trips per page and side. At that rate 1,000,000 keys take
about {minutes:.1f} min; the rate is per key and does not depend on the namespace's size
(SCAN pages are constant work), so the extrapolation is linear. The replay before it took
{float(f["replay_s"]):.1f} s (a rebuild into scratch spaces).

## Where the rebuild's time goes (yappi, CPU, own time)

{f["profile"]}
"""


def _bound(f: dict[str, Any]) -> str:
    wall, python, redis = float(f["wall_us"]), float(f["python_us"]), float(f["redis_us"])
    busier = "this process" if python >= redis else "Redis"
    return f"""Per event the rebuild took {wall:.1f} µs. This process spent {python:.1f} µs of
CPU on it (every thread: reading the log, decoding, queuing each projection's
commands, packing them, reading the replies), the Redis server {redis:.1f} µs on its
own core. The two work at once, so the busier of them bounds the rate: here
{busier}, at {max(python, redis) / wall:.0%} of the wall time."""


def summary(figures: dict[str, object]) -> list[report.Row]:
    events, rebuild = int(figures["events"]), float(figures["rebuild"])  # type: ignore[call-overload, arg-type]
    peer, compare_rate = float(figures["peer"]), float(figures["compare"])  # type: ignore[arg-type]
    return [
        report.Row(
            f"rebuild, {events:,} events, all read models", f"{rebuild:,.0f} events/s",
            f"eventsourcing read + decode {peer:,.0f} events/s", f"{rebuild / peer:.2f}",
            f">= {TARGET:,} events/s", rebuild >= TARGET,
        ),
        report.Row(
            "verify compare, 1M keys (extrapolated)", f"{MILLION / compare_rate / 60:.1f} min",
            f"{compare_rate:,.0f} keys/s", "", "minutes, not hours", MILLION / compare_rate < 600,
        ),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="20,000 events; docs untouched")
    args = parser.parse_args()
    events = 20_000 if args.quick else args.events
    machine = report.machine(PACKAGES)
    print(f"{report.today()}\n{machine}\n", flush=True)
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="inkwell-rebuild-") as scratch,
        heap.young_generation_raised(),
    ):
        figures = uvloop.run(measure(Path(scratch), events))
    text = document(figures, machine, time.monotonic() - started)
    print("\n" + text)
    if not args.quick:
        print(f"written to {report.write_section('rebuild', text)}")
        report.write_summary("rebuild", summary(figures))


if __name__ == "__main__":
    main()
