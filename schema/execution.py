"""How strawberry runs operations here: graphql-core's executor, minus a subscription leak
and the reference cycle every request made, with a subscription's item run again after
a store outage, and no per-request hook machinery for extensions the schema does not
have."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Sequence
from contextlib import nullcontext
from inspect import isawaitable
from typing import Any

from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionContext

from schema.errors import Outages

# How long an event that met an outage waits before it runs again: doubled each time.
FIRST_OUTAGE_WAIT = 0.25
LONGEST_OUTAGE_WAIT = 2.0


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
    copy starts with a memo of its own, dropped with it.

    An event whose execution met a store outage (`outages`: a per-viewer read such as
    `likedByViewer`, or a comments page, read as Redis froze) runs again once the store
    answers (`_until_answered`), for up to `outage_wait_seconds`: sent as it came, the
    item was `data: null` with UNAVAILABLE, and since its change was never sent again,
    the subscriber's last item stayed an old state (an outside probe, after an 8 s
    SIGSTOP of Redis and after a restart). `waiting_out` sets both."""

    outages: Outages = ()
    outage_wait_seconds = 0.0
    _event_of: Executor | None = None  # on an event's copy: the operation's executor

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.async_helpers = _helpers(weakref.ref(self))  # graphql-core's made the cycle

    @classmethod
    def waiting_out(cls, outages: Outages, seconds: float) -> type[Executor]:
        """This executor, with a subscription event that met one of `outages` run again
        until it runs without, for up to `seconds`."""
        return type(cls.__name__, (cls,), {"outages": outages, "outage_wait_seconds": seconds})

    def build_per_event_executor(self, payload: Any) -> Any:
        executor: Executor = super().build_per_event_executor(payload)  # type: ignore[assignment]
        executor._relevant_sub_fields = {}
        executor._event_of = self
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        result = super().execute_operation(serially)
        if self._event_of is None or not self.outages:
            return result
        return _until_answered(self, self._event_of, result, serially)


async def _until_answered(
    event: Executor, operation: Executor, result: Any, serially: bool | None
) -> Any:
    """The event's result, run again on a fresh copy (errors of its own) while it met an
    outage, waiting longer each time, until `outage_wait_seconds` have passed."""
    answered = await result if isawaitable(result) else result
    deadline = time.monotonic() + event.outage_wait_seconds
    wait = FIRST_OUTAGE_WAIT
    while _met_an_outage(answered, event.outages) and time.monotonic() + wait < deadline:
        await asyncio.sleep(wait)
        wait = min(2 * wait, LONGEST_OUTAGE_WAIT)
        again = operation.build_per_event_executor(event.root_value)
        rerun = super(Executor, again).execute_operation(serially)  # not this retry again
        answered = await rerun if isawaitable(rerun) else rerun
    return answered


def _met_an_outage(result: Any, outages: Outages) -> bool:
    errors = getattr(result, "errors", None) or ()
    return any(isinstance(getattr(e, "original_error", None), outages) for e in errors)


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
