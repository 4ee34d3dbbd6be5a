"""`events tail --follow` across a log restored from a backup and a log that cannot be
read for a while (cli/following.py), on a log held in memory that answers as the SQL
log reader does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from cli.following import Follow
from domain.ports import RecordedEvent
from tests.support.recorded import AT, recorded


class Log:
    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []
        self.failures = 0  # reads to refuse, as a log whose tables a restore dropped

    def write(self, count: int, minute: int) -> None:
        for _ in range(count):
            position = self.events[-1].position + 1 if self.events else 1
            at = AT + timedelta(minutes=minute, seconds=position)
            self.events.append(replace(recorded(position), recorded_at=at))

    def restore(self, head: int) -> None:
        """As a backup taken at `head`: its positions are handed out again."""
        self.events = [event for event in self.events if event.position <= head]

    async def last(self, count: int, stream_id: str | None = None) -> list[RecordedEvent]:
        return self.events[-count:] if count else []

    async def after(
        self, position: int, limit: int, stream_id: str | None = None
    ) -> list[RecordedEvent]:
        if self.failures:
            self.failures -= 1
            raise OperationalError("SELECT", {}, Exception('relation "events" does not exist'))
        return [event for event in self.events if event.position > position][:limit]


async def follow_while(log: Log, step: Callable[[], None]) -> tuple[list[int], list[str]]:
    shown: list[int] = []
    warnings: list[str] = []
    following = Follow(
        log, lambda events: shown.extend(e.position for e in events), warnings.append, None
    )
    following.shown(await log.last(20))
    shown.extend(event.position for event in await log.last(20))
    task = asyncio.create_task(following.run(poll_seconds=0.01))
    try:
        await asyncio.sleep(0.05)
        step()
        await asyncio.sleep(0.1)
    finally:
        task.cancel()
    return shown, warnings


@pytest.mark.parametrize(
    ("written", "backup", "after_restore", "shown", "said"),
    [
        # Restored to position 3 after 5 were shown, the log's new 4, 5 and 6 were
        # never printed: the follow waited for events after 5.
        (5, 3, 3, [1, 2, 3, 4, 5, 4, 5, 6], "position 5 is no longer in the log"),
        # Older than every event remembered: shown again from the first remembered.
        (3, 0, 4, [1, 2, 3, 1, 2, 3, 4], "none of the 3 events shown last"),
    ],
)
async def test_events_written_after_a_restore_are_shown(
    written: int, backup: int, after_restore: int, shown: list[int], said: str
) -> None:
    log = Log()
    log.write(written, minute=0)

    def restore_and_write() -> None:
        log.restore(backup)
        log.write(after_restore, minute=1)

    printed, warnings = await follow_while(log, restore_and_write)
    assert printed == shown
    (warning,) = warnings
    assert said in warning


async def test_a_log_that_cannot_be_read_for_a_while_is_said_once_and_followed_on() -> None:
    log = Log()
    log.write(2, minute=0)

    def fail_then_write() -> None:
        log.failures = 3
        log.write(1, minute=0)

    shown, warnings = await follow_while(log, fail_then_write)
    assert shown == [1, 2, 3]
    assert warnings == [
        'cannot read the log (relation "events" does not exist): trying again',
        "the log reads again",
    ]
