"""A running Inkwell's long-lived tasks: started by name, cancelled together on exit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

log = logging.getLogger("inkwell")

Spawn = Callable[[Coroutine[Any, Any, None], str], None]


@asynccontextmanager
async def background() -> AsyncIterator[Spawn]:
    """Long-running tasks, cancelled on exit; one that dies is logged, never silently lost."""
    tasks: list[asyncio.Task[None]] = []

    def spawn(work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        task.add_done_callback(_report)
        tasks.append(task)

    try:
        yield spawn
    finally:
        await _cancel_all(tasks)


async def _cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    """Cancels until every task is done. A cancellation can be swallowed by the code it
    lands in (redis-py 8.1 blocking reads, docs/field-notes.md; Python 3.11's asyncio.timeout
    when its deadline coincides), so one cancel() is not always enough."""
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.2)


def _report(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task %s died", task.get_name(), exc_info=task.exception())
