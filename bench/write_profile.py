"""Where Inkwell's write path spends its CPU: yappi over every thread, grouped by area.

Runs get+mutate+save at concurrency 50 under yappi's CPU clock, with C calls
(the sqlite3 driver) counted. The profiler slows everything down, so the shares
matter here, not the rate.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from pathlib import Path

import uvloop
import yappi

from bench import inkwell_writes, report

WORKERS = 50
POSTS = 1_000

# Own CPU time is credited to the first area whose marker is in the function's module
# or name (builtins have "builtins" as their module).
AREAS = (
    ("sqlite3 driver (C: execute, fetch, commit)", "sqlite3"),
    ("SQLAlchemy Core", "/sqlalchemy/"),
    ("Inkwell eventstore/", "/eventstore/"),
    ("Inkwell domain/ (bus, handlers, aggregates, event decoding)", "/domain/"),
    ("asyncio, uvloop, threads, queues", "asyncio|uvloop|threading.py|queue.py|concurrent/"),
    ("stdlib dataclasses, typing, json, hashlib", "dataclasses.py|typing.py|json|hashlib"),
    ("other builtins (isinstance, getattr, ...)", "builtins"),
)
# Inclusive CPU per command of the steps of one command: (label, module, function).
STEPS = (
    (
        "stream loads on the event loop (SELECT on a held sqlite3 connection)",
        "loop_reads.py",
        "LoopReads.stream",
    ),
    ("decoding the loaded events", "events.py", "event_from_dict"),
    (
        "the writer's transactions (BEGIN to COMMIT), per command",
        "writer.py",
        "GroupCommitWriter._commit",
    ),
    ("  of which the commands' appends (checks, inserts)", "writer.py", "_Append.__call__"),
    ("the bus and the handler, on the event loop thread", "bus.py", "CommandBus.dispatch"),
)
HOPS = 2_000


def area(module: str, name: str) -> str:
    for label, markers in AREAS:
        if any(marker in module or marker in name for marker in markers.split("|")):
            return label
    return "other Python"


def profile(database: Path, seconds: float) -> str:
    names: dict[int, str] = {}

    async def run() -> int:
        async with inkwell_writes.open_bus(database) as (bus, author):
            commands = await inkwell_writes.updaters(bus, author, WORKERS, POSTS)
            deadline = time.perf_counter() + seconds

            async def worker(command: inkwell_writes.Command) -> int:
                done = 0
                while time.perf_counter() < deadline:
                    await command(done)
                    done += 1
                return done

            yappi.clear_stats()
            yappi.set_clock_type("cpu")
            yappi.start(builtins=True)
            try:
                return sum(await asyncio.gather(*(worker(command) for command in commands)))
            finally:
                yappi.stop()
                names.update((thread.ident or 0, thread.name) for thread in threading.enumerate())

    commands = uvloop.run(run())
    functions = list(yappi.get_func_stats())
    threads = list(yappi.get_thread_stats())
    return render(functions, threads, names, commands, seconds) + hop_cost()


def hop_cost() -> str:
    """What one trip to a worker thread and back costs here, without a profiler."""

    async def hops() -> None:
        for _ in range(HOPS):
            await asyncio.to_thread(int)

    cpu, wall = time.process_time(), time.perf_counter()
    uvloop.run(hops())
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return (
        f"\nOne `asyncio.to_thread` round trip (uvloop, a function that does nothing) costs "
        f"{cpu / HOPS * 1e6:,.0f} µs of CPU and {wall / HOPS * 1e6:,.0f} µs of wall time on this "
        "machine, without the profiler. A command makes one such trip, the append to the "
        "writer thread: on SQLite its stream loads run on the event loop.\n"
    )


def render(
    functions: list[yappi.YFuncStat],
    threads: list[yappi.YThreadStat],
    names: dict[int, str],
    commands: int,
    seconds: float,
) -> str:
    own: dict[str, float] = defaultdict(float)
    for stat in functions:
        own[area(stat.module, stat.name)] += stat.tsub
    total = sum(own.values())
    areas = [
        [label, f"{cpu:.2f}", f"{cpu / total:.0%}", f"{cpu / commands * 1e6:,.0f}"]
        for label, cpu in sorted(own.items(), key=lambda item: -item[1])
    ]
    steps = []
    for label, module, name in STEPS:
        ttot = sum(s.ttot for s in functions if s.module.endswith(module) and s.name == name)
        calls = sum(s.ncall for s in functions if s.module.endswith(module) and s.name == name)
        steps.append([label, f"{calls / commands:.2f}", f"{ttot / commands * 1e6:,.0f}"])
    by_thread = [
        [_role(names.get(t.tid, t.name)), f"{t.ttot:.2f}", f"{t.ttot / seconds:.0%}"]
        for t in sorted(threads, key=lambda t: -t.ttot)
    ]
    return f"""### Where Inkwell's time goes

yappi (CPU clock, every thread, C calls included) over {seconds:g} s of get+mutate+save
at concurrency {WORKERS}: {commands:,} commands, {total:.2f} s of CPU, so
{total / commands * 1e6:,.0f} µs of CPU per command under the profiler.

{report.table(["thread", "CPU s", "of one core"], by_thread)}

{report.table(["step", "calls per command", "CPU µs per command"], steps)}

{report.table(["area (own time)", "CPU s", "share", "µs per command"], areas)}
"""


def _role(name: str) -> str:
    """The thread's job, from the names Inkwell and asyncio give their threads."""
    if name == "MainThread":
        return "event loop (bus, handlers, aggregates)"
    if name == "inkwell-writer":
        return "group-commit writer"
    if name.startswith("asyncio_"):
        return f"reader {name} (stream loads)"
    return name
