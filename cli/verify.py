"""`inkwell verify`: proves the read models equal a replay of the whole log."""

from __future__ import annotations

import asyncio

import typer

from cli.console import operator_console
from cli.environment import refused, require_redis, settings_or_exit
from observability.evictions import account_for, evicted_keys
from projections.projectors.log_binding import AnotherLogRuns, BoundToAnotherLog
from projections.projectors.parking import Parked, read_parked
from projections.tools import verify as verification
from wiring import heap
from wiring.bootstrap import NAMES, PROJECTIONS, running


def verify() -> None:
    """Proves the read models match the log; exits 1 on any difference.

    Replays the whole event log into scratch spaces and compares them, key by key,
    with the live read models. Run it while writes are quiet."""
    settings = settings_or_exit()
    require_redis(settings)

    async def check() -> tuple[list[str], list[Parked]]:
        async with running(settings, take_over=False) as inkwell:
            evicted = await evicted_keys(inkwell.redis)  # whole as of here, if they match
            head = await inkwell.store.head_position()
            await inkwell.services.consistency.wait_for(head, timeout=300)
            scratch = await verification.replay(
                inkwell.redis, inkwell.store, inkwell.keys, PROJECTIONS
            )
            try:
                found = await verification.differences(inkwell.redis, inkwell.keys, scratch, NAMES)
            finally:
                await verification.drop(inkwell.redis, scratch, NAMES)
            if not found:
                await account_for(inkwell.redis, inkwell.keys, evicted)
            parked = [await read_parked(inkwell.redis, inkwell.keys, name) for name in NAMES]
            return found, [entry for entry in parked if entry.events]

    try:
        with heap.young_generation_raised():
            found, parked = asyncio.run(check())
    except (AnotherLogRuns, BoundToAnotherLog) as error:
        raise refused(str(error)) from None
    console = operator_console()
    for line in found:
        console.print(line, markup=False)
    console.print(f"{len(found)} keys differ" if found else "the read models match the log")
    for entry in parked:
        # A replay parks the same events, so they do not count as differences; but the
        # read models leave them out, and an operator should know.
        console.print(
            f"[yellow]{entry.projection}: {len(entry.events)} events parked in "
            f"{len(entry.streams)} streams, left out of the read models as a replay "
            "leaves them: see `inkwell parked list`[/]"
        )
    raise typer.Exit(1 if found else 0)
