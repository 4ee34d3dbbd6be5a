"""Write throughput side by side: Inkwell's command bus against the `eventsourcing` library.

Both write to SQLite files in one temporary directory, in WAL mode with
synchronous=FULL (Inkwell sets it; it is SQLite's default, which the library
keeps). Two workloads, each at concurrency 1 and 50:

- create+save: a new aggregate with one event;
- get+mutate+save: load an aggregate by replaying its stream, decide, append.
  1,000 posts are made before the clock starts; each worker edits its own share
  of them in turn, so streams stay a few events long and nothing conflicts.

Inkwell runs its real path: `CommandBus.dispatch` on asyncio (uvloop, as the
server), stream loads on the event loop (eventstore/loop_reads.py), appends through
the group-commit writer thread. Its handlers also load the acting user, as they must; the library's
application does not. The library runs in threads (its API is synchronous).

Each cell runs for a fixed time; the cells alternate between the two systems and
repeat, and the table shows each cell's median, so that a noisy neighbour on a
shared machine hits both. Each round also measures the floor under both at 1
writer: SQLite alone committing one event a transaction (bench/commit_floor.py).
Inkwell's writer reports each of its transactions as it does to `/metrics`
(`on_transaction`, eventstore/writer.py): the table gives their median time, from
taking the connection to the check of the log's files after COMMIT, and how many
appends each took. Then Inkwell's get+mutate+save at concurrency 50 runs again under a profiler.
Run: `python -m bench.write_throughput [--quick]`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import uvloop

from bench import commit_floor, eventsourcing_peer, inkwell_writes, report, write_profile

WORKLOADS = ("create+save", "get+mutate+save")
CONCURRENCY = (1, 50)
POSTS = 1_000  # made before get+mutate+save starts, and edited in turn: streams stay short
SYSTEMS = ("Inkwell", "eventsourcing")
PACKAGES = ("SQLAlchemy", "eventsourcing", "uvloop", "orjson", "yappi")
FIELD_NOTES = {"create+save": 1_760, "get+mutate+save": 950}  # the library, measured earlier


Transaction = tuple[int, float, bool]  # appends, seconds, committed


@dataclass(frozen=True)
class Rate:
    per_second: float
    cpu_us: float  # CPU time of the whole process (every thread) per command
    # Inkwell's: its writer's transactions, as it reports them (eventstore/writer.py's
    # on_transaction): the median's µs, and appends per transaction.
    transaction_us: float | None = None
    appends_per_transaction: float | None = None


class Stopwatch:
    def __init__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def rate(self, commands: int, transactions: Sequence[Transaction] = ()) -> Rate:
        wall, cpu = time.perf_counter() - self._wall, time.process_time() - self._cpu
        if not transactions:
            return Rate(commands / wall, cpu / commands * 1e6)
        return Rate(
            commands / wall, cpu / commands * 1e6,
            statistics.median(seconds for _, seconds, _ in transactions) * 1e6,
            sum(appends for appends, _, _ in transactions) / len(transactions),
        )  # fmt: skip


def inkwell(workload: str, concurrency: int, database: Path, seconds: float) -> Rate:
    transactions: list[Transaction] = []

    async def run() -> Rate:
        async with inkwell_writes.open_bus(
            database, lambda *transaction: transactions.append(transaction)
        ) as (bus, author):
            if workload == "create+save":
                commands = await inkwell_writes.creators(bus, author, concurrency)
            else:
                commands = await inkwell_writes.updaters(bus, author, concurrency, POSTS)
            deadline = time.perf_counter() + seconds

            async def worker(command: inkwell_writes.Command) -> int:
                done = 0
                while time.perf_counter() < deadline:
                    await command(done)
                    done += 1
                return done

            transactions.clear()  # the set-up's
            stopwatch = Stopwatch()
            counts = await asyncio.gather(*(worker(command) for command in commands))
            return stopwatch.rate(sum(counts), transactions)

    return uvloop.run(run())


def peer(workload: str, concurrency: int, database: Path, seconds: float) -> Rate:
    blog = eventsourcing_peer.open_blog(database)
    try:
        if workload == "create+save":
            commands = eventsourcing_peer.creators(blog, concurrency)
        else:
            commands = eventsourcing_peer.updaters(blog, concurrency, POSTS)
        deadline = time.perf_counter() + seconds

        def worker(command: eventsourcing_peer.Command) -> int:
            done = 0
            while time.perf_counter() < deadline:
                command(done)
                done += 1
            return done

        stopwatch = Stopwatch()
        if concurrency == 1:
            counts = [worker(commands[0])]
        else:
            with ThreadPoolExecutor(concurrency) as pool:
                counts = list(pool.map(worker, commands))
        return stopwatch.rate(sum(counts))
    finally:
        blog.close()


Cell = tuple[str, str, int]  # system, workload, concurrency
FLOOR: Cell = ("SQLite alone", "one-event commit", 1)


def measure(scratch: Path, seconds: float, repeats: int) -> dict[Cell, list[Rate]]:
    rates: dict[Cell, list[Rate]] = {}
    runs = {"Inkwell": inkwell, "eventsourcing": peer}
    for repeat in range(repeats):
        floor = commit_floor.commits_per_second(scratch / f"floor-{repeat}.db", seconds)
        rates.setdefault(FLOOR, []).append(Rate(floor, 0.0))
        print(f"  {'SQLite alone':13} {'commit':15} x1   {floor:8,.0f}/s", flush=True)
        for workload in WORKLOADS:
            for concurrency in CONCURRENCY:
                for system in SYSTEMS:
                    database = scratch / f"{system}-{workload}-{concurrency}-{repeat}.db"
                    gc.collect()
                    rate = runs[system](workload, concurrency, database, seconds)
                    rates.setdefault((system, workload, concurrency), []).append(rate)
                    print(
                        f"  {system:13} {workload:15} x{concurrency:<3} "
                        f"{rate.per_second:8,.0f}/s {rate.cpu_us:8,.0f} µs CPU each"
                        + _transactions(rate),
                        flush=True,
                    )
    return rates


def _transactions(rate: Rate) -> str:
    if rate.transaction_us is None or rate.appends_per_transaction is None:
        return ""
    return (
        f"  transactions {rate.transaction_us:,.0f} µs, "
        f"{rate.appends_per_transaction:,.1f} appends each"
    )


TARGETS = {1: 1.5, 50: 3.0}  # issue 11: the command cycle against the library


def summary_rows(rates: dict[Cell, list[Rate]]) -> list[report.Row]:
    rows = []
    for concurrency, target in TARGETS.items():
        ours, theirs = (
            statistics.median(r.per_second for r in rates[(system, "get+mutate+save", concurrency)])
            for system in SYSTEMS
        )
        rows.append(
            report.Row(
                measure=f"command cycle in process (get+mutate+save), {concurrency} writer(s)",
                inkwell=f"{ours:,.0f}/s", reference=f"{theirs:,.0f}/s (eventsourcing)",
                ratio=f"{ours / theirs:.2f}", target=f">= {target:g}",
                met=ours / theirs >= target,
            )
        )  # fmt: skip
    return rows


def results_table(rates: dict[Cell, list[Rate]]) -> str:
    rows = []
    for workload in WORKLOADS:
        for concurrency in CONCURRENCY:
            ours, theirs = (rates[(system, workload, concurrency)] for system in SYSTEMS)
            speed = [statistics.median(r.per_second for r in runs) for runs in (ours, theirs)]
            cpu = [statistics.median(r.cpu_us for r in runs) for runs in (ours, theirs)]
            took = statistics.median(r.transaction_us or 0.0 for r in ours)
            shared = statistics.median(r.appends_per_transaction or 0.0 for r in ours)
            rows.append(
                [
                    workload, str(concurrency),
                    f"{speed[0]:,.0f}", f"{speed[1]:,.0f}", f"{speed[0] / speed[1]:.2f}",
                    f"{cpu[0]:,.0f}", f"{cpu[1]:,.0f}", f"{took:,.0f} / {shared:,.1f}",
                    " / ".join(
                        ", ".join(f"{r.per_second:,.0f}" for r in runs) for runs in (ours, theirs)
                    ),
                ]
            )  # fmt: skip
    header = [
        "workload", "concurrency", "Inkwell commands/s", "eventsourcing commands/s",
        "Inkwell ÷ eventsourcing", "Inkwell CPU µs per command",
        "eventsourcing CPU µs per command",
        "Inkwell's transactions: median µs / appends each",
        "every run, commands/s (Inkwell / eventsourcing)",
    ]  # fmt: skip
    return report.table(header, rows)


def floor_paragraph(rates: dict[Cell, list[Rate]]) -> str:
    """What 1.5 times the library's rate at 1 writer leaves once the commit is paid."""
    floor = 1e6 / statistics.median(r.per_second for r in rates[FLOOR])
    ours, theirs = (
        1e6 / statistics.median(r.per_second for r in rates[(system, "get+mutate+save", 1)])
        for system in SYSTEMS
    )
    took = statistics.median(
        r.transaction_us or 0.0 for r in rates[("Inkwell", "get+mutate+save", 1)]
    )
    budget = theirs / TARGETS[1]
    return (
        f"SQLite alone commits one event a transaction in {floor:,.0f} µs (median of the rounds). "
        f"At 1 writer a get+mutate+save took {ours:,.0f} µs with Inkwell and {theirs:,.0f} µs "
        f"with the library: {ours - floor:,.0f} and {theirs - floor:,.0f} µs beyond the commit. "
        f"Inkwell's writer reported its transactions at {took:,.0f} µs (median: from taking the "
        f"connection to its check of the log's files after COMMIT), so {ours - took:,.0f} µs "
        "of each command were the event loop's work and the two thread wake-ups around the "
        f"transaction. {TARGETS[1]:g} times the library's rate is {budget:,.0f} µs a command, "
        f"{budget - floor:,.0f} µs beyond the commit."
    )


def document(
    rates: dict[Cell, list[Rate]], profile: str, args: argparse.Namespace, machine: str,
    took: float,
) -> str:  # fmt: skip
    return f"""## Write throughput: Inkwell's command bus against the eventsourcing library

`python -m bench.write_throughput`, {report.today()}, took {took / 60:.1f} min.
Machine: {machine}.

{__doc__.split(chr(10) + chr(10), 1)[1].rsplit("Run:", 1)[0].strip()}

Each cell ran {args.seconds:g} s, {args.repeats} time(s): medians, then every run.
docs/field-notes.md measured the library at about {FIELD_NOTES["create+save"]:,} create+save/s and
{FIELD_NOTES["get+mutate+save"]:,} get+mutate+save/s on this kind of machine.

{results_table(rates)}

{floor_paragraph(rates)}

{profile}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 s cells, once; docs untouched")
    args = parser.parse_args()
    args.seconds, args.repeats = (1.0, 1) if args.quick else (3.0, 3)
    machine = report.machine(PACKAGES)
    print(f"{report.today()}\n{machine}\n", flush=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="inkwell-writes-") as scratch:
        rates = measure(Path(scratch), args.seconds, args.repeats)
        profile = write_profile.profile(Path(scratch) / "profiled.db", args.seconds * 2)
    text = document(rates, profile, args, machine, time.monotonic() - started)
    print("\n" + text)
    if not args.quick:
        print(f"written to {report.write_section('write_throughput', text)}")
        report.write_summary("write_throughput", summary_rows(rates))


if __name__ == "__main__":
    main()
