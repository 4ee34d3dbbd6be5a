"""The `rebuild` command's account: a progress bar with events/s and the time left."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from domain.ports import EventLog
from projections.keys import Keys
from projections.projection import Projection
from projections.rebuild import Rebuild
from projections.scripts import Scripts


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

        def advanced(position: int, head: int) -> None:
            bar.update(task, completed=position, total=head)
            speed = bar.tasks[task].speed
            bar.update(task, rate=speed or 0.0)

        build = Rebuild(redis, keys, Scripts.register(redis), event_log, projections, advanced)
        swapped = await build.run()
        bar.update(task, description=f"swapped in {names} at {swapped.position}; deleting old")
        await build.delete_old(swapped)
        bar.update(task, description=f"rebuilt {names}")
    return swapped.position
