"""`inkwell status`: a table of the projections: how far, how far behind, moving or stuck."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cli.console import operator_console
from cli.environment import inspecting, require_redis, settings_or_exit
from observability.evictions import (
    advice,
    evicted_in,
    evicting_policy,
    memory_info,
    unaccounted_evictions,
)
from observability.progress import Progress, ProgressReader
from observability.readiness import not_the_logs
from observability.redis_writes import write_refusal
from projections.keyspace.keys import Keys
from projections.projectors.holders import who
from wiring.bootstrap import NAMES


def status() -> None:
    """Shows every projection: position, log head, lag, state, parked events.

    `applied` counts the events its projectors applied, ever, rebuilds included (it is
    past the head after a rebuild, and starts again when Redis loses the read models);
    `advanced` is how long ago the checkpoint last moved.

    Exits 1 when a projection is stalled, has events waiting and no projector holding its
    lease, waits for a rebuild to swap in (as after Redis lost its data), has parked events
    or is ahead of the log (its checkpoint past the log's head: the log was restored from an
    older backup), the read models belong to another event log, the log does not answer,
    the database refuses writes, a SQLite log's disk has under 1 MiB free, Redis may evict
    read-model keys (an allkeys-* maxmemory-policy) or evicted keys that no rebuild or
    verify has accounted for since; 2 when no Redis is found, or the
    event log cannot be opened at the start (the database down, full or paused, or
    DATABASE_URL wrong: one line says why).
    """
    settings = settings_or_exit()
    console = operator_console(min_width=STATUS_WIDTH)
    require_redis(settings)

    async def show() -> bool:
        keys = Keys(settings.prefix)
        async with inspecting(settings) as (redis, log_reader):
            assert redis is not None
            if not log_reader.answers_within(LOG_SECONDS):
                console.print(
                    f"[red]the event log does not answer within {LOG_SECONDS:g} s (a lock held "
                    "on it? the database down?): positions and lags cannot be read[/]"
                )
                return False
            progress = await ProgressReader(redis, keys, NAMES, log_reader).read()
            ahead = [p for p in progress if p.ahead]
            bound, identity = str(await redis.get(keys.log()) or ""), await log_reader.identity()
            refuses_writes = await log_reader.refuses_writes()
            free = log_reader.free_bytes()
            info = await memory_info(redis)
            counted = None if info is None else evicted_in(info)
            evicted = await unaccounted_evictions(redis, keys, counted)
            policy = None if info is None else evicting_policy(info)
            refusal = await write_refusal(redis, keys.write_probe())
            built = bool(await redis.exists(*(keys.namespace(name) for name in NAMES)))
        # Until its first swap a rebuild's read models are not built, but its locks are
        # under the server's prefix: after Redis lost its data, status asked whether the
        # prefix was mistyped while the projector rebuilt (an outside probe).
        in_use = built or any(p.rebuilt_by is not None for p in progress)
        healthy = show_status(
            console, progress, settings.ready_stalled_after, refusal is None, in_use
        )
        if not in_use:
            # A mistyped INKWELL_PREFIX reads as a deployment whose projector never ran:
            # "start `serve`", said for each projection, would build read models under the
            # wrong prefix (outside probes). Said once, as a question, instead.
            console.print(
                f"[red]there are no read models under prefix {keys.prefix!r} in that Redis "
                "(is INKWELL_PREFIX the server's? a server or `inkwell project` builds them "
                "when it starts)[/]"
            )
            healthy = False
        if refusal is not None:
            console.print(
                f"[red]Redis refuses writes ({escape(refusal)}): no projector can apply an "
                "event until it takes them again[/]"
            )
            healthy = False
        another_log = bound not in ("", identity)
        if another_log:
            console.print(
                f"[red]the read models under prefix {keys.prefix!r} belong to event log "
                f"{bound}, not to this one ({identity}): the table measures them against "
                "the wrong log, and says nothing of this one's (point DATABASE_URL at that "
                "log, or give this one its own INKWELL_PREFIX)[/]"
            )
        elif ahead:  # against the wrong log, a shorter one only looks restored
            show_ahead(console, ahead)
        if refuses_writes:
            console.print(
                "[red]the database refuses writes (transaction_read_only is on: a standby, "
                "or default_transaction_read_only): mutations answer UNAVAILABLE[/]"
            )
            healthy = False
        if policy:
            console.print(f"[red]{escape(policy)}[/]")
            healthy = False
        if evicted:
            console.print(f"[red]{advice(evicted)}[/]")
            healthy = False
        if free is not None and free < LOW_DISK_BYTES:
            console.print(
                f"[red]the disk holding the SQLite log has {free:,} bytes free: once it is "
                "full every commit fails and mutations answer UNAVAILABLE[/]"
            )
            healthy = False
        return healthy and not another_log

    if not asyncio.run(show()):
        raise typer.Exit(1)


LOG_SECONDS = 5.0  # how long the log may take to answer before status says it does not
LOW_DISK_BYTES = 1 << 20  # less room than this for a SQLite log fails status
STATUS_WIDTH = 100  # the table's width with five projections and six-digit positions

STATE_STYLES = {
    "caught up": "green",
    "catching up": "yellow",
    "stalled": "bold red",
    "no projector": "bold red",
    "rebuilding": "yellow",
    "ahead of the log": "bold red",
    "not the log's": "bold red",
}


def show_ahead(console: Console, ahead: Sequence[Progress]) -> None:
    """Says which projections are past the log's head, and who rebuilds each."""
    names = ", ".join(p.name for p in ahead)
    console.print(
        f"[red]{names} ahead of the log: the read models hold events the log does not "
        "have, and queries serve them. Was the log restored from an older backup? Each "
        "is rebuilt from the log and swapped in:[/]"
    )
    for p in ahead:
        said = f"  {p.name}: checkpoint {p.position}, log head {p.head}, {p.ahead} events ahead; "
        if p.rebuilt_by is not None:
            console.print(said + f"rebuilding: {who(p.rebuilt_by)}")
        else:
            console.print(
                said + "no rebuild under way: a running projector starts one as soon as it "
                "looks (start `serve` or `project` if none runs), or run "
                f"`inkwell rebuild --projection {p.name}`"
            )


def status_table(progress: Sequence[Progress], stalled_after: float) -> Table:
    table = Table(title="Projections")
    for column in (
        "projection",
        "position",
        "head",
        "lag",
        "lag (s)",
        "state",
        "parked",
        "applied",
        "advanced",
    ):
        text = column in ("projection", "state")
        table.add_column(column, justify="left" if text else "right", no_wrap=text)
    for p in progress:
        state = p.state(stalled_after)
        table.add_row(
            p.name,
            str(p.position),
            str(p.head),
            str(p.lag),
            f"{p.lag_seconds:.1f}",
            f"[{STATE_STYLES[state]}]{state}[/]",
            f"[red]{p.parked}[/]" if p.parked else "0",
            str(p.applied),
            _ago(p.advanced_at),
        )
    return table


def show_status(
    console: Console,
    progress: Sequence[Progress],
    stalled_after: float,
    redis_takes_writes: bool,
    in_use: bool = True,
) -> bool:
    """Prints the table; True when every projection is caught up or moving, none is ahead
    of the log, being rebuilt or parked. A stalled projection, or one whose lease nobody
    holds, is asked after its projector unless Redis refuses writes, which stalls every
    projector, or unless the prefix is not `in_use`: nothing built or being rebuilt under
    it (both said after the table)."""
    console.print(status_table(progress, stalled_after))
    for p in progress:
        if p.went_back and not p.ahead:
            console.print(f"[red]{p.name}: {not_the_logs(p)}[/]")
        if p.state(stalled_after) == "no projector" and in_use:
            # A running projector cannot take or renew a lease while Redis refuses writes:
            # "start `serve`" sent an operator to the wrong fix (an outside probe).
            advice = (
                "start `serve` or `inkwell project`"
                if redis_takes_writes
                else "none can take it while Redis refuses writes (below)"
            )
            console.print(
                f"[red]{p.name}: {p.lag} event{'' if p.lag == 1 else 's'} waiting and no "
                "projector holds its lease: "
                f"{advice}[/]"
            )
        if p.state(stalled_after) == "stalled":
            ask = "does a projector run? (`serve`, or `inkwell project`)"
            console.print(
                f"[red]{p.name}: {p.stalled_reason(stalled_after)}"
                f"{': ' + ask if redis_takes_writes else ''}[/]"
            )
        if p.state(stalled_after) == "rebuilding":
            show_rebuilding(console, p)
        if p.parked:
            console.print(
                f"[red]{p.name}: {p.parked} events parked in {p.parked_streams} streams[/]; "
                "its other streams flow. See the `parked list` command."
            )
    moving = ("caught up", "catching up")
    return all(p.state(stalled_after) in moving and p.parked == 0 for p in progress)


def show_rebuilding(console: Console, p: Progress) -> None:
    """Says who rebuilds a projection whose checkpoint waits for the swap, and that queries
    answer from the old read models meanwhile (none, after Redis lost its data)."""
    assert p.rebuilt_by is not None
    console.print(
        f"[yellow]{p.name}: {p.lag} events behind the log's head, rebuilding: "
        f"{escape(who(p.rebuilt_by))}; queries answer from what Redis holds until the "
        "rebuilt read models swap in[/]"
    )


def _ago(moment: float | None) -> str:
    if moment is None:
        return "never"
    seconds = max(0.0, time.time() - moment)
    return f"{seconds:.1f}s ago" if seconds < 120 else f"{seconds / 60:.0f}m ago"
