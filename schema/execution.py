"""How strawberry runs operations here: graphql-core's executor, minus a subscription leak."""

from __future__ import annotations

from typing import Any

from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class PerEventMemo(StrawberryGraphQLCoreExecutionContext):
    """graphql-core 3.3.2 runs each subscription event on a shallow copy of the operation's
    executor, so every copy shares one memo of sub-field selections, keyed by the id of
    that event's field lists and keeping them alive: each item delivered held about
    2.3 KB for the life of the subscription (bench/subscriptions). Here each event's
    copy starts with a memo of its own, dropped with it."""

    def build_per_event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        return executor
