"""Read-your-writes over HTTP: a query sent with `X-Consistent-With: <position>` runs once
every projection has applied that position, or fails with CONSISTENCY_TIMEOUT unrun."""

from __future__ import annotations

import re

from graphql import ExecutionResult, GraphQLError
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from domain.errors import excerpt
from projections.live.consistency import ConsistencyTimeout
from schema.context import Context
from schema.errors import BadInput

POSITION = re.compile(r"[0-9]{1,19}")  # the event log's positions are 64-bit


async def wait_until_consistent(execution: ExecutionContext) -> None:
    """Called just before a valid operation executes. On failure it sets the operation's
    result to the error, and strawberry then answers that instead of executing."""
    ctx = execution.context
    if (
        isinstance(ctx, Context)
        and ctx.consistent_with is not None
        and execution.operation_type is OperationType.QUERY
    ):
        try:
            await ctx.read_your_write(_position(ctx.consistent_with))
        except (BadInput, ConsistencyTimeout) as error:
            execution.result = ExecutionResult(
                data=None, errors=[GraphQLError(str(error), original_error=error)]
            )


def _position(header: str) -> int:
    """A position as mutations return it: ASCII digits only. `int()` alone would also take
    " 1 ", "1_000", "+3" and other scripts' digits, which no client sends on purpose."""
    if not POSITION.fullmatch(header):
        raise BadInput(
            "X-Consistent-With must be a position (a whole number of at most 19 digits), "
            f"not {excerpt(header)}"
        )
    return int(header)
