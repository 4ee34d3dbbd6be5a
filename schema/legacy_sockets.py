"""The legacy subscriptions-transport-ws protocol, held to the rules of schema/sockets.py
and to graphql-transport-ws's close codes and connection_init deadline. It runs queries
and mutations too, as the reference server did."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any, cast

from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import (
    NonJsonMessageReceived,
    NonTextMessageReceived,
    WebSocketDisconnected,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    CompleteMessage,
    ConnectionInitMessage,
    OperationMessage,
    StartMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.types import ErrorMessage as LegacyError
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.types.unset import UnsetType

from schema.context import Context
from schema.sockets import (
    FORBIDDEN,
    INIT_TIMEOUT,
    INVALID_MESSAGE,
    SOCKET_GONE,
    TOO_MANY_INITS,
    DocumentRefused,
    TokenExpiry,
    fitted,
    limit_reached,
    malformed,
    oversized,
    selection_refusal,
    unread,
    with_document,
    within_budget,
)

CLIENT_TYPES = frozenset({"connection_init", "connection_terminate", "start", "stop"})


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """The legacy subscriptions-transport-ws protocol, held to graphql-transport-ws's
    rules where strawberry's handler (0.341.2) had none: a connection_init deadline,
    queries and mutations, and graphql-transport-ws's close codes (it names none for a
    malformed message, a refused connection or a late connection_init)."""

    _init_deadline: asyncio.Task[None] | None = None
    _timed_out = False
    _replacing: set[str]  # ids whose operation a new `start` is ending (_replace)

    async def handle(self) -> None:
        """strawberry's loop, with the connection_init deadline, the token's expiry, and
        4400 for a frame that is not JSON (strawberry's skipped it) or not text."""
        self._init_deadline = asyncio.create_task(self._close_unless_initialised())
        self._expiry = TokenExpiry()
        self._replacing = set()
        try:
            try:
                async for message in self.websocket.iter_json():
                    await self.handle_message(cast(OperationMessage, message))
            except NonTextMessageReceived:  # strawberry's 1002; the other protocol's 4400
                await self.websocket.close(INVALID_MESSAGE, "WebSocket message type must be text")
            except NonJsonMessageReceived as refusal:
                await self.websocket.close(INVALID_MESSAGE, unread(refusal))
        except WebSocketDisconnected:
            pass
        finally:
            self._init_deadline.cancel()
            self._expiry.stop()
            if self.keep_alive_task:
                self.keep_alive_task.cancel()
                with suppress(BaseException):
                    await self.keep_alive_task
            await self.cleanup()

    async def _close_unless_initialised(self) -> None:
        """graphql-transport-ws's deadline, the view's connection_init_wait_timeout (a
        minute): a legacy socket that never sent connection_init stayed open."""
        await asyncio.sleep(self.view.connection_init_wait_timeout.total_seconds())
        self._timed_out = True
        await self.websocket.close(INIT_TIMEOUT, "Connection initialisation timeout")

    async def handle_message(self, message: OperationMessage) -> None:
        """A message of a type the client may not send closes with 4400, as over
        graphql-transport-ws; strawberry ignored it, and the reference server answers an
        `error` that no client waits for."""
        reason = malformed(message, "start", "stop")
        if reason is None and message["type"] not in CLIENT_TYPES:
            reason = f"Unknown message type: {message['type']}"
        if reason:
            await self.websocket.close(INVALID_MESSAGE, fitted(reason))
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        """strawberry's, but a connection the view refuses (schema/view.py on_ws_connect)
        closes with 4403, as over graphql-transport-ws; strawberry closed it with 1011,
        an internal error. A second connection_init closes with 4429, as over
        graphql-transport-ws: strawberry acknowledged it, and its token became the
        socket's user, whose expiry nothing watched (the first token's timer ran on),
        so a token that had expired went on signing mutations (an outside probe)."""
        if self._timed_out:
            return
        if self.connection_acknowledged:
            await self.websocket.close(TOO_MANY_INITS, "Too many initialisation requests")
            return
        if self._init_deadline is not None:
            self._init_deadline.cancel()
        payload = message.get("payload")
        if payload is not None and not isinstance(payload, dict):  # strawberry closed with 1000
            await self.send_message({"type": "connection_error"})
            await self.websocket.close(INVALID_MESSAGE, "connection_init payload must be an object")
            return
        self.context.connection_params = payload
        try:
            acknowledgement = await self.view.on_ws_connect(self.context)
        except ConnectionRejectionError as rejection:
            await self.send_message({"type": "connection_error", "payload": rejection.payload})
            await self.websocket.close(FORBIDDEN, "Forbidden")
            return
        if isinstance(acknowledgement, UnsetType) or acknowledgement is None:
            await self.send_message({"type": "connection_ack"})
        else:
            await self.send_message({"type": "connection_ack", "payload": acknowledgement})
        self.connection_acknowledged = True
        self._expiry.start(self.websocket, self.context)
        if self.keep_alive:
            self.keep_alive_task = asyncio.create_task(self.handle_keep_alive())

    async def handle_start(self, message: StartMessage) -> None:
        id_ = message["id"]
        await self._replace(id_)
        if refusal := limit_reached(self.max_subscriptions_per_connection, len(self.tasks)):
            await self.send_message(LegacyError(type="error", id=id_, payload=refusal))
            return
        try:
            payload = await with_document(self.context, self.schema, dict(message["payload"]))
        except DocumentRefused as refused:
            await self.send_message(LegacyError(type="error", id=id_, payload=refused.error))
            return
        if refusal := selection_refusal(self.schema, payload):
            await self.send_message(LegacyError(type="error", id=id_, payload=refusal))
            return
        resolved = StartMessage(id=id_, type="start", payload=payload)  # type: ignore[typeddict-item]
        await super().handle_start(resolved)

    async def _replace(self, operation_id: str) -> None:
        """Ends the operation a `start` reusing its id replaces, without its `complete`, as
        the reference subscriptions-transport-ws server does, and before the new one is
        checked, as there: a new one refused leaves no operation under the id. strawberry
        stopped it as a `stop` does, and its `complete` went out before the new one's
        `data` under the same id: clients drop an id at its `complete`, and lost every item
        after it (an outside probe)."""
        self._replacing.add(operation_id)
        try:
            await self.cleanup_operation(operation_id)
        finally:
            self._replacing.discard(operation_id)

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        """Runs within the address's subscription budget (within_budget), or is refused.
        A client gone mid-stream ends it quietly: the send that found it gone raised in
        this task (strawberry's WebSocketDisconnected for the first, Starlette's for any
        after), which had already left `tasks`, so no one retrieved the exception and
        asyncio logged it, traceback and all, for about half the sockets reset while
        their subscriptions sent (an outside probe)."""
        budget = getattr(self.view, "subscription_budget", None)
        with (
            suppress(*SOCKET_GONE),
            within_budget(
                self.schema, budget, self.context, query, operation_name, variables
            ) as refusal,
        ):
            if refusal is not None:
                await self.send_message(LegacyError(type="error", id=operation_id, payload=refusal))
                self.tasks.pop(operation_id, None)
                return
            await self._run(operation_id, query, operation_name, variables)

    async def _run(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        """strawberry's handle_async_results, running queries and mutations as well: its
        schema.subscribe refused them (InvalidOperationTypeError, answered
        INTERNAL_SERVER_ERROR), where the reference subscriptions-transport-ws server
        answers them with `data`, then `complete`. schema.stream runs them as
        strawberry's graphql-transport-ws handler does, through the hooks HTTP's
        schema.execute goes through (InkwellSchema's _create_execution_context and
        _execute_operation: cost limit, write rate limits, consistency), with this
        connection's context."""
        try:
            source = await self.schema.stream(
                query=query,
                variable_values=variables,
                operation_name=operation_name,
                context_value=self.context,
                root_value=self.root_value,
            )
            self.subscriptions[operation_id] = source
            first = True
            async for result in source:
                if first and isinstance(result, PreExecutionError):
                    assert result.errors
                    error = result.errors[0].formatted
                    await self.send_message(
                        LegacyError(type="error", id=operation_id, payload=error)
                    )
                    return
                # ExecutionResult: schema/served.py enables no @defer or @stream.
                await self._send_result(
                    cast(ExecutionResult, result), operation_id, query, operation_name
                )
                first = False
            await self.send_message(CompleteMessage(type="complete", id=operation_id))
        except asyncio.CancelledError:
            if operation_id not in self._replacing:  # stopped, or its socket closed
                await self.send_message(CompleteMessage(type="complete", id=operation_id))
        finally:
            self.subscriptions.pop(operation_id, None)
            self.tasks.pop(operation_id, None)

    async def _send_result(
        self, result: ExecutionResult, operation_id: str, query: str, operation_name: str | None
    ) -> None:
        """A query's result over the answer limit goes as an `error` for its id (a
        mutation's is always sent: its writes are done; a subscription's items are far
        below the limit)."""
        view = cast(Any, self.view)
        if view.documents.is_query(query, operation_name):
            payload = {"data": result.data, "errors": [e.formatted for e in result.errors or ()]}
            if refusal := oversized(payload, view.max_response_bytes):
                await self.send_message(LegacyError(type="error", id=operation_id, payload=refusal))
                return
        await self.send_data_message(result, operation_id)
