"""Following the event log for `inkwell events tail --follow`, across what an operator
does to the log while it runs.

A log restored from a backup hands out again the positions it had already passed: the
follow asked for events after the last one it had shown, found none (or only those past
it), and printed nothing of what was written after the restore. An outside probe saw
three new events never shown, twice. So each poll reads from the last event shown, which
must still be there, the same; when it is not, the follow finds the last of the events it
remembers that the log still holds, says so, and goes on from there. A log that cannot be
read for a while (a restore dropping its tables: `relation "events" does not exist`, a
server restarting) is said once and tried again, not a traceback.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from domain.ports import RecordedEvent

FOLLOW_BATCH = 500
REMEMBERED = 1000  # events shown, to find where a restored log parts from them


class Log(Protocol):
    async def last(self, count: int, stream_id: str | None = None) -> list[RecordedEvent]: ...

    async def after(
        self, position: int, limit: int, stream_id: str | None = None
    ) -> list[RecordedEvent]: ...


def same(one: RecordedEvent, other: RecordedEvent) -> bool:
    """The same event: a restored log's event at a position is another one."""
    return _identity(one) == _identity(other)


def _identity(event: RecordedEvent) -> tuple[object, ...]:
    return (event.position, event.stream_id, event.version, event.recorded_at, event.command_id)


class Follow:
    def __init__(
        self,
        log: Log,
        show: Callable[[Sequence[RecordedEvent]], None],
        warn: Callable[[str], None],
        stream_id: str | None,
    ) -> None:
        self._log = log
        self._show = show
        self._warn = warn
        self._stream_id = stream_id
        self._shown: deque[RecordedEvent] = deque(maxlen=REMEMBERED)
        self._position = 0  # the last position shown, or where following began
        self._unreadable = False

    def shown(self, events: Sequence[RecordedEvent]) -> None:
        """Events shown before following (`tail`'s last ones)."""
        self._shown.extend(events)
        if events:
            self._position = events[-1].position

    def start_at(self, position: int) -> None:
        self._position = position

    async def run(self, poll_seconds: float) -> None:
        """Until cancelled."""
        while True:
            try:
                read_all = await self.poll()
            except SQLAlchemyError as error:
                if not self._unreadable:
                    self._unreadable = True
                    reason = str(getattr(error, "orig", None) or error).splitlines()[0]
                    self._warn(f"cannot read the log ({reason}): trying again")
                read_all = False
            else:
                if self._unreadable:
                    self._unreadable = False
                    self._warn("the log reads again")
            if not read_all:
                await asyncio.sleep(poll_seconds)

    async def poll(self) -> bool:
        """Shows what is new; whether there may be more at once."""
        if not self._shown:
            events = await self._log.after(self._position, FOLLOW_BATCH, self._stream_id)
            self._show_new(events)
            return len(events) == FOLLOW_BATCH
        last = self._shown[-1]
        events = await self._log.after(last.position - 1, FOLLOW_BATCH + 1, self._stream_id)
        if not events or not same(events[0], last):
            await self._part()
            return True
        self._show_new(events[1:])
        return len(events) == FOLLOW_BATCH + 1

    def _show_new(self, events: Sequence[RecordedEvent]) -> None:
        self._show(events)
        self._shown.extend(events)
        if events:
            self._position = events[-1].position

    async def _part(self) -> None:
        """The last event shown is gone: goes back to the last one the log still holds."""
        remembered = list(self._shown)
        first = remembered[0].position
        now = await self._log.after(first - 1, len(remembered), self._stream_id)
        kept = 0
        for shown, held in zip(remembered, now, strict=False):
            if not same(shown, held):
                break
            kept += 1
        gone = remembered[-1].position
        if kept:
            self._position = remembered[kept - 1].position
            self._warn(
                f"the event at position {gone} is no longer in the log (restored from a "
                f"backup?): it still holds those shown up to position {self._position}; "
                "showing what follows them"
            )
        else:
            self._position = first - 1
            self._warn(
                f"none of the {len(remembered)} events shown last (positions {first}-{gone}) "
                "is in the log as it was (restored from a backup?): showing it again from "
                f"position {first}; events before it may differ too"
            )
        self._shown.clear()
        self._shown.extend(remembered[:kept])
