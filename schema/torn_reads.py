"""A query whose reads disagree with each other runs again.

A post and its comments page are two reads: its hash, then (a loader batch later) the
page. A comment added or deleted between them gave `commentCount: 3` beside four
comments, in 2 to 10 items of a run of an outside probe with two clients commenting,
about 10% with deletes; a reader adding and deleting comments in a loop saw 39% of its
answers torn, and one liking and unliking saw `likeCount: 0, likedByViewer: true` in
17-22%. The page, and the viewer's like, are read with the post's position in one MULTI
(`CommentPage.post_position`, ReadModels.liked_by); a page whose comment was deleted
between its own two round trips has no post's position. When that is not the position
of the post read before, the resolver counts a torn read on the context, and the query
runs again, as it would have been answered a moment later. Run again RERUNS times, it is
answered as it came: a post written to so often that every run meets a write is still
answered. Each run is charged to the query cost budget; one the budget cannot pay for is
not run, and the query is answered as it came.

A mutation's payload is not run again (that would run the command again), and a shared
subscription skips a torn item instead (schema/multiplex.py): the write that tore it
changed the post, so a newer item follows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from schema.context import Context

T = TypeVar("T")

RERUNS = 3


async def untorn(
    execution: ExecutionContext,
    run: Callable[[], Awaitable[T]],
    rerun: Callable[[], Awaitable[T]],
    paid: Callable[[ExecutionContext], Awaitable[bool]],
) -> T:
    """`run()`, the query's execution, then `rerun()` while its reads disagreed, up to
    RERUNS times, each once `paid` says the budget took its cost."""
    ctx = execution.context
    if not (isinstance(ctx, Context) and execution.operation_type is OperationType.QUERY):
        return await run()
    seen = ctx.torn_reads
    result = await run()
    for _ in range(RERUNS):
        if ctx.torn_reads == seen or not await paid(execution):
            return result
        seen = ctx.torn_reads
        execution.result, execution.pre_execution_errors = None, None
        result = await rerun()
    return result
