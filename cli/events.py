"""`inkwell events tail`: prints the event log, newest last, and optionally follows it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.markup import escape

from cli.console import operator_console
from cli.environment import inspecting, settings_or_exit
from cli.following import Follow, Log
from domain.ports import RecordedEvent
from domain.recorded_json import kind_and_data, recorded_to_dict

commands = typer.Typer(help="Reads the event log.", no_args_is_help=True)


@commands.command("tail")
def events_tail(
    stream: Annotated[
        str | None, typer.Option(help="Only this stream, e.g. `post-<id>` or `user-<id>`.")
    ] = None,
    last: Annotated[
        int, typer.Option("--last", "-n", min=0, max=2**63 - 1, help="How many to show.")
    ] = 20,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Prints the newest events of the log, oldest first; --follow keeps printing.

    Each line: position, commit time, stream, version, type, command id, correlation id, data.
    Following reads the log itself, so it misses nothing; it needs no Redis, and works
    while Redis is down.
    """
    settings = settings_or_exit(redis=False)

    async def show() -> None:
        async with inspecting(settings) as (_, log_reader):
            await tail(
                log_reader,
                operator_console(),
                last=last,
                stream_id=stream,
                follow=follow,
                as_json=as_json,
            )

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a --follow ends
        asyncio.run(show())


def line(recorded: RecordedEvent) -> str:
    kind, fields = kind_and_data(recorded)
    data = orjson.dumps(fields).decode()
    at = recorded.recorded_at.isoformat(timespec="milliseconds")
    return (
        f"[bold]{recorded.position:>8}[/]  {at}"
        f"  {escape(recorded.stream_id)} v{recorded.version}  [cyan]{kind}[/]"
        f"  command={escape(recorded.command_id)} correlation={escape(recorded.correlation_id)}"
        f"  {escape(data)}"
    )


def json_line(recorded: RecordedEvent) -> str:
    return orjson.dumps(recorded_to_dict(recorded)).decode()


async def tail(
    log: Log,
    console: Console,
    *,
    last: int,
    stream_id: str | None,
    follow: bool,
    as_json: bool = False,
    poll_seconds: float = 0.5,
    warnings: Console | None = None,
) -> None:
    """Prints the last `last` events; with `follow`, then every new one until cancelled
    (cli/following.py). Following reads the log itself, not pub/sub, so it misses nothing."""

    def show(events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            if as_json:
                console.print(json_line(recorded), markup=False, highlight=False, soft_wrap=True)
            else:
                console.print(line(recorded), highlight=False, soft_wrap=True)

    def warn(message: str) -> None:
        (warnings or Console(stderr=True)).print(message, markup=False, highlight=False)

    shown = await log.last(last, stream_id)
    show(shown)
    if not follow:
        return
    following = Follow(log, show, warn, stream_id)
    following.shown(shown)
    if not shown:
        # Nothing of this stream yet: follow from the head, not from the beginning of time.
        head = await log.last(1)
        following.start_at(head[-1].position if head else 0)
    await following.run(poll_seconds)
