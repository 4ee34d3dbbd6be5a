"""Counts what goes wrong in the stores, at the one place every call passes through.

Redis: redis-py runs every command, pipeline, pub/sub read and connect through
its connection's `Retry` object, so a Retry that notes each failed attempt sees
them all, whoever made the call. A WatchError is an optimistic lock doing its job,
not a fault, and a NoScriptError is EVALSHA asking for a script a fresh or restarted
Redis has not loaded yet (redis-py loads it and calls again). SQL: SQLAlchemy's
`handle_error` engine event sees every DBAPI error; an IntegrityError is how the log
refuses a stale append, not a fault either.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import NoScriptError, RedisError, WatchError
from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import IntegrityError

T = TypeVar("T")
OnError = Callable[[BaseException], None]


class CountingRetry(Retry):
    """redis-py 8.1's default policy (10 retries, jittered backoff from 10 ms to 1 s,
    after a connection error or a timeout), reporting every failed attempt to
    `on_error`. `supported_errors` narrows what is tried again."""

    def __init__(
        self,
        on_error: OnError,
        backoff: Any = None,
        retries: int = 10,
        supported_errors: tuple[type[RedisError], ...] | None = None,
    ) -> None:
        backoff = backoff or ExponentialWithJitterBackoff(base=0.01, cap=1)
        if supported_errors is None:
            super().__init__(backoff, retries)
        else:
            super().__init__(backoff, retries, supported_errors)
        self._on_error = on_error

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[T]],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        async def counted() -> T:
            try:
                return await do()
            except (WatchError, NoScriptError):
                raise
            except (RedisError, OSError) as error:
                self._on_error(error)
                raise

        return await super().call_with_retry(counted, fail, is_retryable, with_failure_count)

    def __deepcopy__(self, memo: dict[int, Any]) -> CountingRetry:
        """redis-py deep-copies the policy into each connection; the copies must keep
        reporting to the same counter rather than to a copy of it."""
        return CountingRetry(
            self._on_error,
            copy.deepcopy(self._backoff, memo),
            self._retries,
            self._supported_errors,
        )


def count_database_errors(engine: Engine, on_error: OnError) -> None:
    def noted(context: ExceptionContext) -> None:
        if not isinstance(context.sqlalchemy_exception, IntegrityError):
            on_error(context.sqlalchemy_exception or context.original_exception)

    event.listen(engine, "handle_error", noted)
