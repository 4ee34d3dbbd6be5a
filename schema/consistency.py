"""Read-your-writes over HTTP: a query sent with `X-Consistent-With: <position>` runs once
every projection has applied that position, or fails unrun: CONSISTENCY_TIMEOUT, or
BAD_USER_INPUT for a header that is no position or a position past the event log's head
(no write returned it, so waiting could not help)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

from graphql import ExecutionResult, GraphQLError
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from domain.errors import excerpt
from projections.live.consistency import ConsistencyTimeout, NotInLog
from schema.context import RERUNS, Context
from schema.errors import BadInput

T = TypeVar("T")

POSITION = re.compile(r"[0-9]{1,19}")  # the event log's positions are 64-bit


async def consistently(
    execution: ExecutionContext, run: Callable[[], Awaitable[T]], rerun: Callable[[], Awaitable[T]]
) -> T:
    """`run()`, the operation's execution; for a query with X-Consistent-With, once the
    read models hold its position (`wait_until_consistent`). Then Redis is read once more:
    if it no longer holds the position in the spaces the query read (a flush or an empty
    restart landed between the wait and the reads, which then found nothing), the query
    waits and runs again (`rerun()`: the client is not charged twice for it), up to RERUNS
    times, then answers CONSISTENCY_TIMEOUT."""
    spaces = await wait_until_consistent(execution)
    result = await run()
    reruns = 0
    while spaces is not None and not await _reads_held(execution, spaces):
        if reruns == RERUNS:
            ctx = execution.context
            timeout = ctx.services.consistency_timeout
            _refuse(execution, ConsistencyTimeout(_position(ctx.consistent_with), timeout))
            return await rerun()  # the refusal: strawberry answers a result set on the context
        reruns += 1
        execution.result, execution.pre_execution_errors = None, None
        spaces = await wait_until_consistent(execution, again=True)
        result = await rerun()
    return result


async def wait_until_consistent(
    execution: ExecutionContext, *, again: bool = False
) -> dict[str, str] | None:
    """Called just before a valid operation executes. For a query with X-Consistent-With,
    the active spaces its reads will use once the wait is over; on failure it sets the
    operation's result to the error, and strawberry then answers that instead of
    executing."""
    ctx = execution.context
    if (
        isinstance(ctx, Context)
        and ctx.consistent_with is not None
        and execution.operation_type is OperationType.QUERY
    ):
        try:
            position = _position(ctx.consistent_with)
            await ctx.read_your_write(position, from_client=True, again=again)
            return ctx.services.consistency.spaces()
        except NotInLog as error:
            _refuse(execution, _past_head(error))
        except (BadInput, ConsistencyTimeout) as error:
            _refuse(execution, error)
    return None


async def _reads_held(execution: ExecutionContext, spaces: dict[str, str]) -> bool:
    """Whether Redis still holds the query's position in `spaces`."""
    ctx = execution.context
    position = _position(ctx.consistent_with)
    return bool(await ctx.services.consistency.still_holds(position, spaces))


def _refuse(execution: ExecutionContext, error: Exception) -> None:
    execution.result = ExecutionResult(
        data=None, errors=[GraphQLError(str(error), original_error=error)]
    )


def _past_head(error: NotInLog) -> BadInput:
    return BadInput(
        f"X-Consistent-With is position {error.position}, past the end of the event log "
        f"({error.head}): send a position a mutation returned",
        "X-Consistent-With",
    )


def _position(header: str) -> int:
    """A position as mutations return it: ASCII digits only. `int()` alone would also take
    "1_000", "+3" and other scripts' digits, which no client sends on purpose. Spaces and
    tabs around it are not the value's (RFC 9110, 5.5), though uvicorn leaves them."""
    if not POSITION.fullmatch(header := header.strip(" \t")):
        raise BadInput(
            "X-Consistent-With must be a position (a whole number of at most 19 digits), "
            f"not {excerpt(_as_sent(header))}",
            "X-Consistent-With",
        )
    return int(header)


def _as_sent(header: str) -> str:
    """The header as the client wrote it: Starlette reads header bytes as Latin-1, so the
    UTF-8 of "٣" came back in the message as "Ã\x99Â£" (an outside probe)."""
    return header.encode("latin-1", "replace").decode("utf-8", "replace")
