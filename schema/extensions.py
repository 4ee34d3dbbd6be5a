"""Schema extensions of our own: the X-Consistent-With wait, and logging only what is unexpected."""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from projections.consistency import ConsistencyTimeout
from schema.context import Context
from schema.errors import BadInput


class ConsistentReads(SchemaExtension):
    """A query sent with `X-Consistent-With: <position>` runs once every projection has
    applied that position, or fails with CONSISTENCY_TIMEOUT without running."""

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
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
        yield


def _position(header: str) -> int:
    try:
        position = int(header)
    except ValueError:
        raise BadInput(f"X-Consistent-With must be a position, not {header!r}") from None
    if position < 0:
        raise BadInput("X-Consistent-With must not be negative")
    return position
