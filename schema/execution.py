"""How strawberry runs operations here: graphql-core's executor, minus a subscription leak,
and no per-request hook machinery for extensions the schema does not have."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionContext


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


_NO_HOOKS: Any = nullcontext()  # enters and exits, with `with` or `async with`, doing nothing


class NoExtensions(SchemaExtensionsRunner):
    """The runner strawberry uses around each phase (operation, parsing, validation,
    execution, each item of a stream) when there is no extension to run: it enters
    nothing. strawberry's own runner builds a hook context and an exit stack per phase
    and request whether or not any extension is there; py-spy under `post(id)` load put
    those at 12% of the server's event loop (ExtensionContextManagerBase)."""

    def __init__(self, execution_context: ExecutionContext) -> None:
        super().__init__(execution_context, [])

    def operation(self) -> Any:
        return _NO_HOOKS

    def validation(self) -> Any:
        return _NO_HOOKS

    def parsing(self) -> Any:
        return _NO_HOOKS

    def executing(self) -> Any:
        return _NO_HOOKS

    def on_stream_result(self, result: Any) -> Any:
        return _NO_HOOKS

    async def get_extensions_results(self, ctx: ExecutionContext) -> dict[str, Any]:
        return dict(ctx.extensions_results)
