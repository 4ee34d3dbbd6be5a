"""Shared live queries: a subscription is executed once per (document, variables, viewer-
dependent part) and every subscriber who shares them is sent the same serialized bytes,
as Hasura multiplexes its live queries.

Without this, 5,000 subscribers of one post meant 5,000 GraphQL executions and 5,000
JSON encodings per change, all on one core. Here a group runs strawberry's stream
once, encodes each result once, and hands the text to its members; each member
only wraps it in its own `{"id": ..., "type": "next", "payload": ...}` envelope.

Only subscriptions whose every item is a whole state (`post`, `projections`) are
shared: a member that falls behind keeps only the newest item, which is all a state
needs. `feed` and `commentAdded` deliver distinct items and run per subscriber.

The viewer-dependent part keeps per-viewer authorization: a post's draft shows only
to its author, and `likedByViewer` is the viewer's own. So the author of the post,
and anyone whose document selects `likedByViewer`, runs in a group of their own;
everyone else shares one group executed as an anonymous reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, nullcontext
from typing import Any, TypeGuard

from graphql import (
    FieldNode,
    GraphQLError,
    InlineFragmentNode,
    OperationType,
    SelectionNode,
    VariableNode,
)
from starlette.websockets import WebSocketDisconnect
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.types.execution import ExecutionResult, PreExecutionError

from domain.errors import InvalidInput
from schema import ids, json_codec
from schema.context import Context
from schema.document_memo import DocumentMemo
from schema.errors import coded
from schema.operation_kinds import chosen_operation

log = logging.getLogger(__name__)

UNEXPECTED = {"code": "INTERNAL_SERVER_ERROR"}
SHARED_FIELDS = frozenset({"post", "projections"})
VIEWER_FIELDS = ("likedByViewer",)
SKIPPED_AT_MOST = 3  # torn results skipped in a row (Group._stream)

Start = Callable[[Context], Awaitable[Any]]  # strawberry's schema.stream for one context
Key = tuple[str, str, str | None, str | None]


def _root_field(query: str, operation_name: str | None) -> FieldNode | None:
    """The root field of the operation `operation_name` chooses, if that operation is a
    subscription that selects one field, written alone or in inline fragments on the
    subscription type without directives (`... on Subscription { post(id: $id) {...} }`:
    such a `post` went unshared, and its torn items were sent: a re-check probe); else
    None. A fragment spread is not looked into."""
    chosen = chosen_operation(query, operation_name)
    if chosen is None or chosen.operation is not OperationType.SUBSCRIPTION:
        return None
    selections = chosen.selection_set.selections
    while len(selections) == 1 and _plain_root_fragment(selections[0]):
        selections = selections[0].selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        return None
    return selections[0]


def _plain_root_fragment(selection: SelectionNode) -> TypeGuard[InlineFragmentNode]:
    return (
        isinstance(selection, InlineFragmentNode)
        and not selection.directives
        and (
            selection.type_condition is None
            or selection.type_condition.name.value == "Subscription"
        )
    )


def _shared_field(query: str, operation_name: str | None) -> str | None:
    """The root field of a subscription that may be shared, else None."""
    field = _root_field(query, operation_name)
    name = None if field is None else field.name.value
    return name if name in SHARED_FIELDS else None


shared_field = DocumentMemo(_shared_field, 1024)


class Item:
    """What a member receives: a serialized `next` payload, or the errors that end it."""

    __slots__ = ("errors", "payload")

    def __init__(self, payload: str | None = None, errors: list[Any] | None = None) -> None:
        self.payload = payload
        self.errors = errors


class Member:
    def __init__(self) -> None:
        self.newest: Item | None = None
        self.ended = False
        self._ready = asyncio.Event()

    def put(self, item: Item) -> None:
        self.newest = item
        self._ready.set()

    def end(self) -> None:
        self.ended = True
        self._ready.set()

    async def items(self) -> AsyncIterator[Item]:
        while True:
            await self._ready.wait()
            self._ready.clear()
            item, self.newest = self.newest, None
            if item is not None:
                yield item
                if item.errors is not None:
                    return
            if self.ended and self.newest is None:
                return


class Group:
    """One execution of a shared subscription, fanned out to its members."""

    def __init__(self, start: Start, context: Context, on_empty: Callable[[], None]) -> None:
        self.members: set[Member] = set()
        self.last: Item | None = None
        self.ended = False
        self._on_empty = on_empty
        self.task = asyncio.create_task(self._run(start, context), name="shared subscription")

    def add(self, member: Member) -> None:
        self.members.add(member)
        if self.last is not None:
            member.put(self.last)
        if self.ended:
            member.end()

    def remove(self, member: Member) -> None:
        self.members.discard(member)
        if not self.members:
            self._on_empty()
            self.task.cancel()

    async def _run(self, start: Start, context: Context) -> None:
        try:
            await self._stream(start, context)
        except Exception:
            log.exception("a shared subscription failed")
            self._send(Item(errors=[{"message": "Unexpected error.", "extensions": UNEXPECTED}]))
        finally:
            self.ended = True
            self._on_empty()
            for member in self.members:
                member.end()

    async def _stream(self, start: Start, context: Context) -> None:
        """Each result to every member, but a torn one (schema/torn_reads.py): the write
        that tore it changed the post, so a newer result follows. After SKIPPED_AT_MOST
        in a row, a torn one is sent too: a post written to without pause still shows."""
        source = await start(context)
        skipped, torn_reads = 0, context.torn_reads  # the context is this group's alone
        async with contextlib.aclosing(source):
            async for result in source:
                if isinstance(result, PreExecutionError) or not isinstance(
                    result, ExecutionResult
                ):  # refused before it ran, or incremental delivery: no stream
                    errors = getattr(result, "errors", None) or []
                    self._send(Item(errors=[error.formatted for error in errors]))
                    return
                torn, torn_reads = context.torn_reads != torn_reads, context.torn_reads
                if torn and skipped < SKIPPED_AT_MOST:
                    skipped += 1
                    continue
                skipped = 0
                self._send(Item(payload=_payload(result)))

    def _send(self, item: Item) -> None:
        self.last = item
        for member in self.members:
            member.put(item)


class SharedSubscriptions:
    """The groups of one process."""

    def __init__(self) -> None:
        self._groups: dict[Key, Group] = {}

    @property
    def executions(self) -> int:
        return len(self._groups)

    @asynccontextmanager
    async def join(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        viewer: str | None,
        context: Context,
        start: Start,
    ) -> AsyncIterator[Member]:
        """Joins the group of these and `viewer` (_viewer_part says who that is)."""
        key: Key = (
            query,
            json_codec.encode(variables or {}, sort_keys=True),
            operation_name,
            viewer,
        )
        group = self._groups.get(key)
        if group is None or group.ended:
            # The group's resolver runs as `viewer`; the subscriptions gauge counts members.
            services = dataclasses.replace(context.services, subscription=nullcontext)
            group_context = dataclasses.replace(context, viewer_id=viewer, services=services)

            def forget(key: Key = key) -> None:
                if self._groups.get(key) is group:
                    del self._groups[key]

            group = Group(start, group_context, forget)
            self._groups[key] = group
        member = Member()
        group.add(member)
        try:
            yield member
        finally:
            group.remove(member)


async def _viewer_part(
    field: str,
    query: str,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    context: Context,
) -> str | None:
    """The viewer the group runs as: None (an anonymous reader) unless what the document
    shows depends on who asks. An id that is not a UUID names no post, so it is never the
    viewer's own: it is checked here, before it names a Redis key (`post:<id>:likers`
    is a set, and HGETALL on it raised WRONGTYPE), and the group refuses it with
    BAD_USER_INPUT as it does for an anonymous reader."""
    viewer = context.viewer_id
    if viewer is None or field != "post":
        return None
    if any(name in query for name in VIEWER_FIELDS):
        return viewer
    post_id = _post_id(query, variables, operation_name)
    if post_id is None:
        return viewer
    try:
        post_id = ids.entity_id(post_id, "id")
    except InvalidInput:
        return None
    post = await context.services.live.post_now(post_id)
    return viewer if post is not None and post.author_id == viewer else None


def _post_id(
    query: str, variables: dict[str, Any] | None, operation_name: str | None
) -> str | None:
    """The `id` argument of the `post` root field of the chosen operation, from the
    variables or a literal."""
    field = _root_field(query, operation_name)
    for argument in () if field is None else field.arguments or ():
        if argument.name.value != "id":
            continue
        value = argument.value
        if isinstance(value, VariableNode):
            found = (variables or {}).get(value.name.value)
            return found if isinstance(found, str) else None
        literal = getattr(value, "value", None)
        return literal if isinstance(literal, str) else None
    return None


def _payload(result: ExecutionResult) -> str:
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return json_codec.encode(payload)


class SharingTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, with shareable subscriptions joined to their group. The
    view must have a `shared: SharedSubscriptions` (InkwellGraphQL has).

    A socket whose handshake carried X-Consistent-With runs its subscriptions alone, each
    waiting for that position before its first read (schema/consistency.py). Shared, a
    group's viewer was chosen, and its first state read, on its first member's context:
    an author's own new draft, not yet projected, was joined as an anonymous reader's
    and NOT_FOUND after the wait; a later member's header was never checked, or shared
    the first member's CONSISTENCY_TIMEOUT before its own deadline (re-check probes)."""

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        field = shared_field(operation.query, operation.operation_name)
        shared: SharedSubscriptions | None = getattr(self.view, "shared", None)
        socket = getattr(self.websocket, "ws", None)  # starlette's WebSocket
        if (
            field is None
            or shared is None
            or socket is None
            or self.context.consistent_with is not None
        ):
            await super().run_operation(operation)
            return

        async def start(context: Context) -> Any:
            return await self.schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=context,
                root_value=self.root_value,
                operation_name=operation.operation_name,
            )

        head = '{"id":' + json_codec.encode(operation.id) + ',"type":"next","payload":'
        context = self.context
        try:
            viewer = await _viewer_part(
                field, operation.query, operation.variables, operation.operation_name, context
            )
        except Exception as error:
            await self._refuse(operation, error)
            return
        try:
            with context.services.subscription():
                async with shared.join(
                    operation.query,
                    operation.variables,
                    operation.operation_name,
                    viewer,
                    context,
                    start,
                ) as member:
                    async for item in member.items():
                        if item.errors is not None:
                            await operation.send_operation_message(
                                {"id": operation.id, "type": "error", "payload": item.errors}
                            )
                            return
                        await socket.send_text(head + (item.payload or "") + "}")
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except (WebSocketDisconnect, WebSocketDisconnected):
            self.operations.pop(operation.id, None)

    async def _refuse(self, operation: Operation[Context, None], error: Exception) -> None:
        """An `error` for the operation's id, which frees the id, coded and logged as the
        schema codes and logs any error (UNAVAILABLE for an outage). A failure before
        the group was joined ended the task unanswered, and the id stayed taken: the
        client waited for ever, and reusing the id closed the socket with 4409."""
        failure = GraphQLError(str(error), original_error=error)
        self.schema.process_errors([failure])
        answer = coded(failure, outages=getattr(self.schema, "outages", ()))
        await operation.send_operation_message(
            {"id": operation.id, "type": "error", "payload": [answer.formatted]}
        )
