"""Read-your-writes: a query sent with `X-Consistent-With: <position>` (over HTTP, or on a
WebSocket whose handshake carried it) runs once every projection has applied that
position, or fails unrun: CONSISTENCY_TIMEOUT, or BAD_USER_INPUT for a header that is no
position or a position past the event log's head (no write returned it, so waiting could
not help). A subscription to a post or its comments waits the same way before its first
read."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

from graphql import ExecutionResult, GraphQLError
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from domain.errors import excerpt
from projections.live.consistency import ConsistencyTimeout, NotInLog
from schema.context import Context
from schema.errors import BadInput

T = TypeVar("T")

POSITION = re.compile(r"[0-9]{1,19}")  # the event log's positions are 64-bit


async def consistently(
    execution: ExecutionContext, run: Callable[[], Awaitable[T]], rerun: Callable[[], Awaitable[T]]
) -> T:
    """`run()`, the operation's execution; a query with X-Consistent-With runs once the
    read models hold its position, and runs again (`rerun()`: the client is not charged
    twice) when Redis, read after it, no longer holds the position in the spaces it read:
    a flush or an empty restart landed between the wait and the reads (Context.settled).
    On failure the operation's result is the error, and strawberry answers that instead
    of executing."""
    ctx = execution.context
    if not (
        isinstance(ctx, Context)
        and ctx.consistent_with is not None
        and execution.operation_type is OperationType.QUERY
    ):
        return await run()
    runs = [run]

    async def execute() -> T:
        if not runs:  # a run before met a flush: the result it set is not the answer
            execution.result, execution.pre_execution_errors = None, None
        return await (runs.pop() if runs else rerun)()

    try:
        position = _position(ctx.consistent_with)
        return await ctx.settled(position, execute, from_client=True, check_found=True)
    except NotInLog as error:
        refusal = _past_head(error)
        refusal.__cause__ = error  # so that its traceback, a cycle, is dropped (errors.py)
        _refuse(execution, refusal)
    except (BadInput, ConsistencyTimeout) as error:
        _refuse(execution, error)
    return await rerun()  # the refusal: strawberry answers a result set on the context


async def subscribed_consistently(ctx: Context) -> None:
    """A subscription on a socket whose handshake carried X-Consistent-With reads its first
    state once the read models hold that position, as the socket's queries do: a post
    created and followed at once was NOT_FOUND for good while the projector lagged (an
    outside probe). A timeout, or a position past the log's head, is the subscription's
    one item."""
    if ctx.consistent_with is None:
        return
    try:
        await ctx.read_your_write(_position(ctx.consistent_with), from_client=True)
    except NotInLog as error:
        raise _past_head(error) from None


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
