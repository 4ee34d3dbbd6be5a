"""`inkwell rebuild`: new read models from the log, swapped in without downtime, with a
progress bar showing events/s and the time left."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Annotated

import typer
from redis.asyncio import Redis
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from cli.console import operator_console
from cli.environment import (
    bind_or_exit,
    evicting_redis_refused,
    inspecting,
    mistyped_prefix_refused,
    quiet_per_command_logs,
    require_redis,
    settings_or_exit,
    stores_answering,
)
from domain.ports import EventLog
from observability.evictions import account_for, evicted_keys
from projections.keyspace.keys import Keys
from projections.projectors.failures import RebuildRunning
from projections.projectors.holders import REBUILD_COMMAND
from projections.projectors.projection import Projection
from projections.projectors.rebuild import LOCK_SECONDS, Rebuild
from projections.projectors.scripts import Scripts
from wiring import heap
from wiring.bootstrap import PROJECTIONS


def rebuild(
    projection: Annotated[
        str | None,
        typer.Option(help=f"Only this projection: {', '.join(p.name for p in PROJECTIONS)}."),
    ] = None,
) -> None:
    """Rebuilds the read models from the log without downtime, in the server's Redis.

    Fills new key namespaces from position 0, catches up with the live projectors,
    swaps them in at once and deletes the old ones; queries answer from the old
    read models until the swap. Refuses to run beside another rebuild of the same
    projection."""
    settings = settings_or_exit()
    console = operator_console()
    chosen = [p for p in PROJECTIONS if projection in (None, p.name)]
    if not chosen:
        names = ", ".join(p.name for p in PROJECTIONS)
        console.print(f"[red]no projection {projection!r}; there are: {names}[/]")
        raise typer.Exit(2)
    require_redis(settings)
    quiet_per_command_logs()

    async def run() -> int:
        async with inspecting(settings) as (redis, log_reader):
            assert redis is not None
            await evicting_redis_refused(redis, settings)
            await mistyped_prefix_refused(redis, settings.prefix, await log_reader.identity())
            await bind_or_exit(redis, log_reader, settings)
            keys = Keys(settings.prefix)
            evicted = await evicted_keys(redis)  # every read model is whole as of here
            position = await rebuild_with_progress(redis, keys, log_reader, chosen, console)
            if len(chosen) == len(PROJECTIONS):
                await account_for(redis, keys, evicted)
            return position

    try:
        with heap.young_generation_raised(), stores_answering("rebuild"):
            position = asyncio.run(run())
    except RebuildRunning as running_already:
        console.print(f"[red]{running_already}[/]")
        console.print(
            "Wait for it: `inkwell status` shows the projection caught up once it is done. "
            f"Should that process be gone, its lock expires within {LOCK_SECONDS:g} s."
        )
        raise typer.Exit(1) from None
    console.print(f"rebuilt {', '.join(p.name for p in chosen)} up to position {position}")


async def rebuild_with_progress(
    redis: Redis,
    keys: Keys,
    event_log: EventLog,
    projections: Sequence[Projection],
    console: Console,
) -> int:
    """Rebuilds, swaps and deletes the old spaces; returns the position swapped in.
    Raises RebuildRunning when another rebuild of one of them is under way."""
    names = ", ".join(p.name for p in projections)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events  {task.fields[rate]:>8,.0f} events/s  ETA"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(f"rebuilding {names}", total=None, rate=0.0)

        scripts = Scripts.register(redis)
        advanced = advancing(bar, task)
        build = Rebuild(redis, keys, scripts, event_log, projections, advanced, by=REBUILD_COMMAND)
        swapped = await build.run()
        bar.update(task, description=f"swapped in {names} at {swapped.position}; deleting old")
        await build.delete_old(swapped)
        bar.update(task, description=f"rebuilt {names}")
    return swapped.position


def advancing(bar: Progress, task: TaskID) -> Callable[[int, int], None]:
    """The rebuild's progress callback: the bar to the position reached, its total to the
    log's head, and the events/s since the rebuild began.

    Not Rich's own speed: it reckons that from the samples since the total last changed,
    and a rebuild beside a server taking writes raises the total on each catch-up with the
    live projectors before its swap. The last pass had one sample or none, and a build of
    one batch (2,000 events) only one: the last frame, all that cron or a CI log keeps of
    the bar, read "9359/9359 events  0 events/s" (an outside probe; a terminal showed
    the rate during the build)."""

    def advanced(position: int, head: int) -> None:
        bar.update(task, completed=position, total=head)
        elapsed = bar.tasks[task].elapsed
        bar.update(task, rate=position / elapsed if elapsed else 0.0)

    return advanced
