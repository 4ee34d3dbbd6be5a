"""Read-your-writes over HTTP: a query sent with `X-Consistent-With: <position>` runs once
every projection has applied that position, or fails with CONSISTENCY_TIMEOUT unrun."""

from __future__ import annotations

from graphql import ExecutionResult, GraphQLError
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from domain.errors import excerpt
from projections.live.consistency import ConsistencyTimeout
from schema.context import Context
from schema.errors import BadInput


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
    try:
        position = int(header)
    except ValueError:
        raise BadInput(f"X-Consistent-With must be a position, not {excerpt(header)}") from None
    if position < 0:
        raise BadInput("X-Consistent-With must not be negative")
    return position
