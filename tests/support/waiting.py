"""Waiting for a condition a test can observe, never for a fixed time."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
POLL_SECONDS = 0.05


async def until(check: Callable[[], object | Awaitable[object]], timeout: float = 20) -> None:
    """Returns once `check()` (awaited, if it is a coroutine) is truthy; fails the test
    with TimeoutError after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return
            await asyncio.sleep(POLL_SECONDS)


def until_true(check: Callable[[], T], timeout: float = 20) -> T:
    """`until` for a test without an event loop: returns the first truthy `check()`."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"not within {timeout}s"
        time.sleep(POLL_SECONDS)
    return result
