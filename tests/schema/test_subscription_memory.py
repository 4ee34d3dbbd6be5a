"""A long-lived subscription holds no memory per delivered item (graphql-core 3.3.2 did)."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import AsyncGenerator

import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.execution import Executor

EVENTS = 2_000


@strawberry.type
class Author:
    name: str


@strawberry.type
class Item:
    id: int
    author: Author


@strawberry.type
class Query:
    ok: bool = True


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def items(self, count: int) -> AsyncGenerator[Item, None]:
        for number in range(count):
            yield Item(id=number, author=Author(name="Ann"))


async def retained_bytes(execution_context_class: type, events: int) -> int:
    """Memory still held once `events` items went through one open subscription."""
    schema = strawberry.Schema(
        query=Query, subscription=Subscription, execution_context_class=execution_context_class
    )
    stream = await schema.subscribe(
        f"subscription {{ items(count: {events}) {{ id author {{ name }} }} }}"
    )
    assert not hasattr(stream, "errors")
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    delivered = 0
    async for _ in stream:
        delivered += 1
        if delivered == events - 1:
            gc.collect()
            held = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    return held


async def test_each_event_of_a_subscription_leaves_nothing_behind() -> None:
    stock = await retained_bytes(StrawberryGraphQLCoreExecutionContext, EVENTS)
    assert stock > 1_000 * EVENTS, (
        "the stock executor no longer leaks: drop Executor.build_per_event_executor"
    )
    # What stays is a fixed overhead (about 40 KB here), the same for 4x the events.
    few = await retained_bytes(Executor, EVENTS)
    many = await retained_bytes(Executor, 4 * EVENTS)
    assert many - few < 100 * EVENTS
    assert many < stock / 20
