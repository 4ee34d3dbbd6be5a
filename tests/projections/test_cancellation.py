"""Stopping a task whose own cleanup fails: its error is retrieved, not left to asyncio;
and a task that swallowed its cancellation is cancelled again."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from typing import Any

import pytest

from projections.redisio.cancellation import cancel_and_wait


async def test_an_error_the_cancelled_task_ends_with_is_retrieved_and_logged_in_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Found in a chaos run: a runner whose lease renewal failed with Redis restarting
    stopped its follow task, which ended with ConnectionError; asyncio then logged
    'Task exception was never retrieved' with a traceback."""
    loop = asyncio.get_running_loop()
    unretrieved: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: unretrieved.append(context))
    started = asyncio.Event()

    async def follow() -> None:
        try:
            started.set()
            await asyncio.sleep(60)
        finally:
            raise ConnectionError("Redis closed the connection after 0 replies")

    task = asyncio.create_task(follow(), name="follow posts")
    await started.wait()
    with caplog.at_level(logging.INFO, logger="projections.redisio.cancellation"):
        await cancel_and_wait(task)
    del task
    gc.collect()
    await asyncio.sleep(0)  # the handler is called from the loop
    loop.set_exception_handler(None)

    assert unretrieved == []
    assert [r.getMessage() for r in caplog.records] == [
        "follow posts ended with ConnectionError: Redis closed the connection after 0 replies"
    ]


async def test_a_task_that_swallowed_its_cancellation_is_cancelled_again() -> None:
    """As redis-py 8.1 can swallow a cancellation that lands in a read (docs/field-notes.md):
    the task ran on to its next wait, a projector's sweep to its minute-long sleep, and the
    follow task that stopped it waited on it that long (found with a runner stopping while
    its sweep read Redis, under load)."""
    started = asyncio.Event()

    async def sweep() -> None:
        started.set()
        with contextlib.suppress(asyncio.CancelledError):  # swallowed, as the read did
            await asyncio.sleep(60)
        await asyncio.sleep(60)  # the next wait

    task = asyncio.create_task(sweep())
    await started.wait()
    async with asyncio.timeout(5):
        await cancel_and_wait(task)
    assert task.cancelled()
