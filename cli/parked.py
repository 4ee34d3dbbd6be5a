"""`inkwell parked list|retry|skip`: see, re-apply or deliberately drop parked events.

Every retry and skip is logged and kept in the audit trail `parked list` shows,
with who did it (the OS user, or --by) and when.
"""

from __future__ import annotations

import asyncio
import getpass
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import typer
from redis.asyncio import Redis
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine

from cli.console import operator_console
from cli.environment import (
    bind_or_exit,
    read_models_or_exit,
    require_redis,
    settings_or_exit,
    stores_answering,
)
from eventstore.engines import Engines, open_engines
from eventstore.skips import record_skip
from eventstore.store import SqlEventStore
from eventstore.writer import GroupCommitWriter
from infra.settings import Settings
from projections.keyspace.keys import Keys
from projections.projectors import parking
from projections.projectors.parking import Log, Parked
from projections.projectors.projection import Projection
from projections.projectors.scripts import Scripts
from wiring.bootstrap import PROJECTIONS

commands = typer.Typer(
    help="Events the projections set aside: list, retry or skip them.", no_args_is_help=True
)


def _known(name: str | None) -> str | None:
    """An unknown --projection is a usage error (one line, exit 2): it was a traceback."""
    known = [projection.name for projection in PROJECTIONS]
    if name is not None and name not in known:
        raise typer.BadParameter(f"no projection {name!r}; there are: {', '.join(known)}")
    return name


ProjectionOption = Annotated[
    str | None,
    typer.Option("--projection", help="Only this projection (default: all).", callback=_known),
]
ByOption = Annotated[
    str | None, typer.Option("--by", help="Who is acting, for the log (default: the OS user).")
]


@commands.command("list")
def parked_list(
    projection: ProjectionOption = None,
    history: Annotated[int, typer.Option(min=0, help="Operator actions to show.")] = 10,
) -> None:
    """Shows every parked event: position, stream, type, when, and why.

    Exits 1 if any."""

    async def show() -> int:
        async with _parked_commands(settings_or_exit()) as (parked, _, _):
            return await parked.show(projection, history)

    with stores_answering("parked list"):
        found = asyncio.run(show())
    raise typer.Exit(1 if found else 0)


@commands.command("retry")
def parked_retry(projection: ProjectionOption = None, by: ByOption = None) -> None:
    """Re-applies parked events, each stream in log order.

    With the code and data as they are now (after an upcaster was added or a row fixed).
    Exits 1 if any stay parked."""

    async def run() -> int:
        async with _parked_commands(settings_or_exit()) as (parked, store, _):
            return await parked.retry(projection, store, operator(by))

    with stores_answering("parked retry"):
        still_parked = asyncio.run(run())
    raise typer.Exit(1 if still_parked else 0)


@commands.command("skip")
def parked_skip(
    position: Annotated[int, typer.Argument(help="The parked event's log position.")],
    projection: ProjectionOption = None,
    by: ByOption = None,
) -> None:
    """Drops a parked event deliberately; a replay or rebuild drops it too.

    Events parked behind it stay parked until `parked retry`. Exits 1 if nothing was
    parked there."""

    async def run() -> int:
        async with _parked_commands(settings_or_exit()) as (parked, _, engines):
            dropped = await parked.skip(position, projection, engines.writer, operator(by))
            if not dropped:
                where = f"projection {projection}" if projection else "any projection"
                parked.console.print(
                    f"nothing is parked at position {position} in {where}: nothing skipped "
                    "(`inkwell parked list` shows what is)",
                    highlight=False,
                    markup=False,
                )
            return dropped

    with stores_answering("parked skip"):
        dropped = asyncio.run(run())
    raise typer.Exit(0 if dropped else 1)


@asynccontextmanager
async def _parked_commands(
    settings: Settings,
) -> AsyncIterator[tuple[ParkedCommands, SqlEventStore, Engines]]:
    """The parked commands' tools: the server's Redis, and the log to re-read events from."""
    url = require_redis(settings)
    engines = open_engines(settings.database_url)
    redis = Redis.from_url(url, decode_responses=True)
    try:
        store = SqlEventStore(engines, GroupCommitWriter(engines, lambda _: None))
        await read_models_or_exit(redis, settings.prefix, "no projection has parked events")
        # Parked positions name events of the log the read models are bound to.
        await bind_or_exit(redis, store, settings, take_over=False)
        yield (
            ParkedCommands(redis, Keys(settings.prefix), PROJECTIONS, operator_console()),
            store,
            engines,
        )
    finally:
        await redis.aclose()
        engines.dispose()


def operator(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return "unknown"


@dataclass(frozen=True)
class ParkedCommands:
    redis: Redis
    keys: Keys
    projections: Sequence[Projection]
    console: Console

    def _chosen(self, name: str | None) -> list[Projection]:
        chosen = [p for p in self.projections if name is None or p.name == name]
        if not chosen:
            known = ", ".join(p.name for p in self.projections)
            raise ValueError(f"no projection {name!r} (known: {known})")
        return chosen

    async def show(self, name: str | None, history: int) -> int:
        """Prints every parked event and the latest operator actions; returns how many."""
        parked = [
            await parking.read_parked(self.redis, self.keys, p.name) for p in self._chosen(name)
        ]
        total = sum(len(p.events) for p in parked)
        if total:
            self.console.print(_table(parked))
        else:
            self.console.print("no parked events")
        trail = await parking.audit_trail(self.redis, self.keys, history)
        if trail:
            self.console.print("\nlatest actions:")
            for record in trail:
                self.console.print(f"  {escape(str(record.get('summary', '')))}", highlight=False)
        return total

    async def retry(self, name: str | None, log: Log, by: str) -> int:
        """Re-applies; returns how many events are still parked."""
        scripts = Scripts.register(self.redis)
        left, retried = 0, False
        for projection in self._chosen(name):
            result = await parking.retry(self.redis, self.keys, scripts, projection, log)
            left += len(result.still_parked)
            if not result.applied and not result.still_parked:
                continue
            retried = True
            summary = (
                f"{_now()} {by} retried {projection.name}: applied {_positions(result.applied)}"
                + (
                    f", still parked {_positions(result.still_parked)}"
                    if result.still_parked
                    else ""
                )
            )
            self.console.print(summary, highlight=False)
            await parking.audit(
                self.redis,
                self.keys,
                {
                    "action": "retry",
                    "by": by,
                    "at": time.time(),
                    "projection": projection.name,
                    "applied": result.applied,
                    "stillParked": result.still_parked,
                    "summary": summary,
                },
            )
        if not retried:  # it printed nothing at all, as if it had not run (an outside probe)
            self.console.print("no parked events to retry", highlight=False)
        return left

    async def skip(self, position: int, name: str | None, engine: Engine, by: str) -> int:
        """Drops the event from every chosen projection that parked it; returns from how many.
        The log records the skip first, so a replay drops it too."""
        dropped = 0
        for projection in self._chosen(name):
            parked = await parking.read_parked(self.redis, self.keys, projection.name)
            if not any(e.position == position for e in parked.events):
                continue
            record_skip(engine, projection.name, position, by)
            entry = await parking.unpark_one(self.redis, self.keys, projection.name, position)
            if entry is None:
                continue
            dropped += 1
            behind = [
                e.position
                for e in parked.events
                if e.stream_id == entry.stream_id and e.position != position
            ]
            summary = (
                f"{_now()} {by} skipped {projection.name} event {position} "
                f"({entry.type} of {entry.stream_id})"
                + (f"; still parked behind it: {_positions(behind)}" if behind else "")
            )
            self.console.print(summary, highlight=False, markup=False)
            await parking.audit(
                self.redis,
                self.keys,
                {
                    "action": "skip",
                    "by": by,
                    "at": time.time(),
                    "projection": projection.name,
                    "position": position,
                    "streamId": entry.stream_id,
                    "summary": summary,
                },
            )
        return dropped


def _table(parked: Sequence[Parked]) -> Table:
    table = Table(title="Parked events")
    for column in ("projection", "position", "stream", "type", "parked", "why"):
        # Folded, never cut: piped or in 80 columns, ids and reasons read "CannotApp…".
        table.add_column(
            column, justify="right" if column == "position" else "left", overflow="fold"
        )
    for group in parked:
        for e in group.events:
            why = f"waits behind {e.behind}" if e.behind is not None else e.error
            table.add_row(
                group.projection,
                str(e.position),
                escape(e.stream_id),
                escape(e.type),
                datetime.fromtimestamp(e.parked_at, UTC).isoformat(timespec="seconds"),
                escape(why),
            )
    return table


def _positions(positions: Sequence[int]) -> str:
    return ", ".join(map(str, positions)) if positions else "none"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
