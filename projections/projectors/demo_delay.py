"""Demo mode's slow projectors: each batch waits before it applies, so that a person
watching the live page sees a write reach the log first and the read models later.

Only `inkwell serve --demo` turns it on (INKWELL_DEMO_PROJECTION_DELAY_MS); the
recent-events projection keeps its pace, since the page shows the log through it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Collection
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
        await asyncio.sleep(self._delay_seconds)
        return await super().apply(events, from_log=from_log, after=after)


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
