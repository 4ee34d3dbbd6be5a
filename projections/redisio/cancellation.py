"""Stopping background work whose cleanup still talks to Redis.

A process that stops cancels its tasks more than once, because one cancellation can be
swallowed by the code it lands in (redis-py's blocking reads; see docs/field-notes.md).
A cleanup awaited in a `finally` is then cut short by the next cancellation: a rebuild's
locks stay held for their whole term, a runner's lease keeps the standby waiting, a
half-built space stays in Redis. These two helpers let such a cleanup finish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)

CLEANUP_SECONDS = 10.0  # a Redis that is down must not hang a shutdown
# How long a cancelled task may run on before it is cancelled again.
RECANCEL_SECONDS = 0.5


async def cancel_and_wait(task: asyncio.Task[None]) -> None:
    """Cancels the task and waits until it has finished. Its cleanup still talks to
    Redis, which the process closes only after its tasks: left running, it would hang
    on a closed pool. Further cancellations of the caller are passed on to the task and
    re-raised once it is done, as asyncio.TaskGroup does.

    A task that ends with an error of its own instead (its Redis gone in the same
    outage that made the caller stop it) has that error retrieved and logged in one
    line: the caller is already unwinding and reports why, and an error never retrieved
    is logged by asyncio with a traceback when the task is collected.

    The task is cancelled again each RECANCEL_SECONDS it runs on: a cancellation it
    swallowed left it running to its next wait, and a projector's sweep task then slept
    its whole minute, its follow task waiting on it. Cleanups that must finish run under
    `complete`, which outlasts repeated cancellations."""
    task.cancel()
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait({task}, timeout=RECANCEL_SECONDS)
        except asyncio.CancelledError:
            cancelled = True
        if not task.done():
            task.cancel()
    if not task.cancelled() and (error := task.exception()) is not None:
        log.info("%s ended with %s: %s", task.get_name(), type(error).__name__, error)
    if cancelled:
        raise asyncio.CancelledError


async def complete(cleanup: Coroutine[Any, Any, None], timeout: float = CLEANUP_SECONDS) -> None:
    """Runs `cleanup` to its end in a task of its own, however often the caller is
    cancelled meanwhile, then re-raises the cancellation. After `timeout` seconds it is
    given up (and cancelled) with a warning. Its own error, if any, is raised, or logged
    when a cancellation is what the caller raises."""
    task = asyncio.create_task(cleanup)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    cancelled = False
    while not task.done() and loop.time() < deadline:
        try:
            await asyncio.wait({task}, timeout=deadline - loop.time())
        except asyncio.CancelledError:
            cancelled = True
    if not task.done():
        task.cancel()
        log.warning("a cleanup did not finish in %.0fs: given up (%r)", timeout, cleanup)
    elif not cancelled:
        task.result()
    elif not task.cancelled() and task.exception() is not None:
        log.warning("a cleanup failed while stopping: %r", task.exception())
    if cancelled:
        raise asyncio.CancelledError
