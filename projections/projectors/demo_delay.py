"""Demo mode's slow projectors: each batch waits before it applies, so that a person
watching the live page sees a write reach the log first and the read models later.

Each event waits until it is the delay old, not for the delay from the moment its batch
is picked: the events recorded while a batch waited were picked next and waited a whole
delay more, so a post created a second after its author registered reached the posts 5 s
later with a 3 s delay, and its read-your-writes answer timed out.

Only `inkwell serve --demo` turns it on (INKWELL_DEMO_PROJECTION_DELAY_MS); the
recent-events projection keeps its pace, since the page shows the log through it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.ports import RecordedEvent
from projections.projectors.runner import ProjectionRunner

RunnerFactory = Callable[..., ProjectionRunner]


class DelayedRunner(ProjectionRunner):
    def __init__(self, *args: Any, delay_seconds: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._delay_seconds = delay_seconds

    async def apply(
        self, events: list[RecordedEvent], *, from_log: bool, after: int | None = None
    ) -> bool:
        """Applies each event once it is the delay old: a batch in parts, by when its
        events were recorded. A part's checkpoint is the next part's `after`."""
        while events:
            await asyncio.sleep(self._wait(events[0]))
            due = datetime.now(UTC) - timedelta(seconds=self._delay_seconds)
            ready = next((n for n, e in enumerate(events) if e.recorded_at > due), len(events))
            part, events = events[: max(ready, 1)], events[max(ready, 1) :]
            if not await super().apply(part, from_log=from_log, after=after):
                return False
            if after is not None:
                after = max(after, part[-1].position)
        return True

    def _wait(self, event: RecordedEvent) -> float:
        """Seconds until `event` is the delay old: never more than the delay (a clock
        that went back), never less than nothing (a batch from the log at start-up)."""
        age = (datetime.now(UTC) - event.recorded_at).total_seconds()
        return min(max(self._delay_seconds - age, 0.0), self._delay_seconds)


def runner_factory(delay_seconds: float, unhurried: Collection[str]) -> RunnerFactory:
    """Builds runners with ProjectionRunner's arguments; slowed when there is a delay,
    except those of the `unhurried` projections."""
    if delay_seconds <= 0:
        return ProjectionRunner
    delayed = functools.partial(DelayedRunner, delay_seconds=delay_seconds)

    def build(projection: Any, *args: Any, **kwargs: Any) -> ProjectionRunner:
        if projection.name in unhurried:
            return ProjectionRunner(projection, *args, **kwargs)
        return delayed(projection, *args, **kwargs)

    return build
