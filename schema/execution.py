"""How strawberry runs operations here: graphql-core's executor, minus a subscription leak
and the reference cycle every request made, and no per-request hook machinery for
extensions the schema does not have."""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Sequence
from contextlib import nullcontext
from typing import Any

from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionContext


class Executor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core 3.3.2's executor with two leaks closed.

    Its resolvers' helpers (`async_helpers`: `gather` and `track`) were a tuple of the
    executor's own bound methods, kept on the executor: every operation's executor was a
    reference cycle, freed only when the cyclic collector ran, and with it everything it
    holds: the request (its body), the variables, the `extensions` object. Those are
    untracked objects, which do not count toward a collection, so they piled up: an
    outside probe grew a server from 136 MB to 3 GB in 400 POSTs of a 1 MB `extensions`
    object of 90,000 keys, about 10 MB held per request. Here the helpers reach the
    executor through a weak reference, so an executor is freed when its operation ends.
    (A subscription event's copy keeps the operation's helpers, as in graphql-core; the
    operation's executor outlives its events.)

    graphql-core also runs each subscription event on a shallow copy of the operation's
    executor, so every copy shares one memo of sub-field selections, keyed by the id of
    that event's field lists and keeping them alive: each item delivered held about
    2.3 KB for the life of the subscription (bench/subscriptions). Here each event's
    copy starts with a memo of its own, dropped with it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.async_helpers = _helpers(weakref.ref(self))  # graphql-core's made the cycle

    def build_per_event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        return executor


def _helpers(executor: weakref.ref[Executor]) -> GraphQLResolveInfoHelpers:
    """`gather` and `track` as graphql-core's, through a weak reference to the executor
    (made once per operation: every field's resolve info carries them)."""

    def gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
        return _alive(executor).gather_async_work(values)

    def track(values: Sequence[Any]) -> None:
        _alive(executor).track_async_work(values)

    return GraphQLResolveInfoHelpers(gather=gather, track=track)


def _alive(executor: weakref.ref[Executor]) -> Executor:
    found = executor()
    if found is None:  # only a resolver kept past its operation could ask
        raise RuntimeError("the operation these helpers belonged to has ended")
    return found


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
