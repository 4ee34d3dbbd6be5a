"""The rules both GraphQL WebSocket protocols are held to, and the graphql-transport-ws
handler (the legacy protocol's is schema/legacy_sockets.py). Subscribe messages go
through the same persisted-query rules as HTTP requests (a trusted-documents server runs
only listed documents over either), and one that selects no operation to run is refused
as over HTTP. Messages of the wrong shape close the socket with 4400 before strawberry's
handlers see them. A socket whose bearer token expires is closed then (TokenExpiry), and
a query's result over the answer limit goes as an error (oversized), as over HTTP. A
subscription runs only within its client address's budget (within_budget).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

from graphql import GraphQLFormattedError
from starlette.websockets import WebSocketDisconnected as SocketClosed
from strawberry.http.async_base_view import AsyncWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, WebSocketDisconnected
from strawberry.schema.base import BaseSchema
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import Operation
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    Message,
    SubscribeMessage,
)

from protection.addresses import client_of
from protection.new_documents import refused_new_document
from protection.subscription_budget import SubscriptionBudget
from schema import json_codec
from schema.context import Context
from schema.errors import too_large
from schema.json_codec import TooManyContainers
from schema.multiplex import SharingTransportWSHandler
from schema.persisted import PersistedQueryRefused
from schema.request_keys import GivenTwice, TooManyMembers
from schema.served import InkwellSchema

log = logging.getLogger(__name__)

# graphql-transport-ws's close codes, which the legacy protocol gets too.
INVALID_MESSAGE = 4400
FORBIDDEN = 4403
INIT_TIMEOUT = 4408
SUBSCRIBER_EXISTS = 4409
TOO_MANY_INITS = 4429

# As an X-Request-Id (observability/requests.py); graphql-ws clients send UUIDs (36),
# subscriptions-transport-ws ones counters. Every reply echoes the id.
MAX_ID_LENGTH = 128
# RFC 6455, 5.5: a control frame holds 125 bytes, 2 of them the close code. uvicorn's
# websockets raised ProtocolError on a longer reason: a traceback, and the socket
# dropped without a close frame.
MAX_CLOSE_REASON_BYTES = 123

# What a send raises on a socket that is gone: strawberry's for a client that has just
# left (uvicorn's ClientDisconnected, through Starlette), Starlette's for every send after
# a close, the client's or the server's own (4400, 4403, 4409 ...).
SOCKET_GONE = (WebSocketDisconnected, SocketClosed)


def malformed(message: object, start: str, stop: str) -> str | None:
    """Why a parsed message may not reach strawberry's handler, or None. They index it
    unchecked: a message that is not an object, or an id or payload of the wrong type,
    raised in the connection's handler (a traceback, and the socket dropped with 1006); a
    query that is not a string failed silently in its task, which kept its slot until the
    socket closed. `start` and `stop` are the protocol's names for the messages that
    start and stop an operation."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "Message must be an object with a string type"
    if message["type"] not in (start, stop):
        return None
    id_ = message.get("id")
    if not isinstance(id_, str) or not id_:
        return "Message id must be a non-empty string"
    if len(id_) > MAX_ID_LENGTH:
        return f"Message id must be at most {MAX_ID_LENGTH} characters"
    return _malformed_payload(message.get("payload")) if message["type"] == start else None


def _malformed_payload(payload: object) -> str | None:
    if not isinstance(payload, dict):
        return "Subscribe payload must be an object"
    if not isinstance(payload.get("operationName"), str | None):
        return "operationName must be a string or null"
    for name in ("variables", "extensions"):
        if not isinstance(payload.get(name), dict | None):
            return f"{name} must be an object or null"
    query = payload.get("query")
    # A document named by a persisted-query hash may come with "" or no query at all.
    if query in (None, "") and (payload.get("extensions") or {}).get("persistedQuery") is not None:
        return None
    if not isinstance(query, str) or not query:
        return "query must be a non-empty string"
    return None


def unread(refusal: NonJsonMessageReceived) -> str:
    """The close reason for a message the endpoint did not read: a repeated key, too many
    members (schema/request_keys.py) or too many objects and arrays (schema/json_codec.py)
    names what it refused; strawberry's reason said "must be valid JSON" of valid JSON."""
    if isinstance(cause := refusal.__cause__, GivenTwice | TooManyMembers | TooManyContainers):
        return fitted(cause.msg)
    return "WebSocket message must be valid JSON"


def fitted(reason: str) -> str:
    """`reason`, cut to what a close frame holds."""
    return reason.encode(errors="replace")[:MAX_CLOSE_REASON_BYTES].decode(errors="ignore")


class DocumentRefused(Exception):
    """A subscribe whose document is refused before it is run: `error` is the answer for
    its id."""

    def __init__(self, error: GraphQLFormattedError) -> None:
        super().__init__(error["message"])
        self.error = error


async def with_document(
    context: Context, schema: BaseSchema, payload: dict[str, Any]
) -> dict[str, Any]:
    """The payload with its document: a persisted query's looked up. Raises
    DocumentRefused for a hash the persisted-query rules refuse, and for a persisted
    document the process must parse again past its client's budget (the socket's gate,
    protection/subscribe_turns.py, charged the documents sent as text)."""
    runnable = functools.partial(
        cast(InkwellSchema, schema).runnable,
        operation_name=payload.get("operationName"),
        variables=payload.get("variables"),
    )
    try:
        query = await context.services.documents.resolve(
            payload.get("query"), payload.get("extensions"), runnable
        )
    except PersistedQueryRefused as refused:
        raise DocumentRefused({"message": str(refused), "extensions": refused.extensions}) from None
    if payload.get("query") is None and (over := await refused_new_document(context, query)):
        raise DocumentRefused(over.formatted)  # over the budget
    return {**payload, "query": query}


def selection_refusal(schema: BaseSchema, payload: dict[str, Any]) -> GraphQLFormattedError | None:
    """Why a subscribe selects no operation of its document to run, or None; refused as
    over HTTP (schema/operations.py says when). strawberry's CannotGetOperationTypeError
    had closed a graphql-transport-ws socket with 4400, answered INTERNAL_SERVER_ERROR
    over the legacy protocol, and logged a traceback."""
    operations = cast(InkwellSchema, schema).operations
    reason = operations.unselectable(payload["query"], payload.get("operationName"))
    return None if reason is None else _bad_request(reason)


def _bad_request(message: str) -> GraphQLFormattedError:
    return {"message": message, "extensions": {"code": "BAD_REQUEST"}}


def oversized(message: Mapping[str, Any], limit: int | None) -> GraphQLFormattedError | None:
    """RESPONSE_TOO_LARGE in place of a query's result over `limit` bytes, as over HTTP
    (schema/view.py): the frame sits in the socket's buffer until the client reads it."""
    if limit is None:
        return None
    size = json_codec.encoded_size(message)
    if size <= limit:
        return None
    return {"message": too_large(size, limit), "extensions": {"code": "RESPONSE_TOO_LARGE"}}


def limit_reached(limit: int | None, running: int) -> GraphQLFormattedError | None:
    """strawberry's refusal past max_subscriptions_per_connection (every operation counts,
    queries too), with a code: strawberry's had none. RATE_LIMITED, the contract's code
    for a protective limit on a client's use; without retryAfter, as the limit frees when
    one of the connection's own operations ends, not with time."""
    if limit is None or running < limit:
        return None
    return {
        "message": f"Subscription limit reached: {limit} operations at once on a connection",
        "extensions": {"code": "RATE_LIMITED"},
    }


@contextmanager
def within_budget(
    schema: BaseSchema,
    budget: SubscriptionBudget | None,
    context: Context,
    query: str,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> Iterator[GraphQLFormattedError | None]:
    """Around an operation's run: holds a subscription's cost against its client address's
    budget until it ends (completed, finished, failed, or its socket closed), and yields
    None; or yields the refusal when the budget cannot hold it, and the operation must not
    run. With rate limits off there is no budget, as there is no WebSocket cap. Queries,
    mutations and what the schema refuses itself (live_cost) are not counted."""
    cost = None
    if budget is not None and context.services.throttle is not None:
        cost = cast(InkwellSchema, schema).live_cost(query, operation_name, variables)
    if budget is None or cost is None:
        yield None
        return
    address = client_of(context)
    if not budget.take(address, cost):
        yield _over_budget(cost, budget.held(address), budget.per_address)
        return
    try:
        yield None
    finally:
        budget.give_back(address, cost)


def _over_budget(cost: int, held: int, budget: int) -> GraphQLFormattedError:
    """RATE_LIMITED, the contract's code for a limit on a client's use; without retryAfter,
    as the budget frees when one of the address's subscriptions ends, not with time."""
    return {
        "message": (
            f"Subscription budget reached: this subscription costs {cost}, and those this "
            f"address holds already {held}, of {budget} (a subscription's cost is paid on "
            "every change; complete one, or ask for less)"
        ),
        "extensions": {
            "code": "RATE_LIMITED",
            "cost": cost,
            "liveCost": held,
            "maxLiveCost": budget,
        },
    }


class TokenExpiry:
    """Closes a socket with 4403 when the bearer token it was opened with expires.

    Over HTTP an expired token is refused on its next request. A socket checked its token
    once, at connection_init (or in the handshake's Authorization header), and went on
    writing and reading as its user for as long as it stayed open. graphql-ws clients
    retry on 4403: they reconnect, send their connectionParams again (a client whose
    connectionParams is a function sends its current token) and subscribe again."""

    REASON = "The bearer token expired"

    def __init__(self) -> None:
        self._closing: asyncio.Task[None] | None = None

    def start(self, websocket: AsyncWebSocketAdapter, context: Context) -> None:
        """Once the connection is acknowledged, with whatever token it was opened with."""
        if context.viewer_expires is not None and self._closing is None:
            self._closing = asyncio.create_task(self._close(websocket, context.viewer_expires))

    def stop(self) -> None:
        """When the socket's handler ends."""
        if self._closing is not None:
            self._closing.cancel()

    async def _close(self, websocket: AsyncWebSocketAdapter, expires: int) -> None:
        await asyncio.sleep(max(0.0, expires - time.time()))
        await websocket.close(FORBIDDEN, self.REASON)


class TransportWSHandler(SharingTransportWSHandler):
    """graphql-transport-ws (the graphql-ws npm client's protocol), sharing subscriptions
    as schema/multiplex.py does."""

    _expiry: TokenExpiry | None = None

    async def handle(self) -> None:
        self._expiry = TokenExpiry()
        try:
            await super().handle()
        finally:
            self._expiry.stop()

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        """Runs within the address's subscription budget (within_budget), or is refused."""
        budget = getattr(self.view, "subscription_budget", None)
        with within_budget(
            self.schema,
            budget,
            self.context,
            operation.query,
            operation.operation_name,
            operation.variables,
        ) as refusal:
            if refusal is not None:
                await operation.send_operation_message(
                    ErrorMessage(id=operation.id, type="error", payload=[refusal])
                )
                return
            await super().run_operation(operation)

    async def handle_task_exception(self, error: Exception) -> None:
        """An operation whose send found its socket gone ends with one DEBUG line: that is
        how sockets close, by their client or by the server (a 4400 or 4409 while other
        operations send). strawberry logged "Exception in worker task" at ERROR with the
        traceback (an outside probe: 40 sockets, both protocols, closing mid-stream).
        Anything else is logged as strawberry logs it."""
        if isinstance(error, SOCKET_GONE):
            log.debug("An operation ended: its socket closed (%s)", error)
            return
        await super().handle_task_exception(error)

    async def handle_message(self, message: Message) -> None:
        if reason := malformed(message, "subscribe", "complete"):
            await self.handle_invalid_message(reason)
            return
        await super().handle_message(message)

    async def handle_invalid_message(self, error_message: str) -> None:
        # strawberry's reason for an unknown type quotes the type whole; for a message it
        # could not read it is called while handling that refusal.
        if isinstance(refusal := sys.exception(), NonJsonMessageReceived):
            error_message = unread(refusal)
        await super().handle_invalid_message(fitted(error_message))

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        """A payload of null is no payload, as the graphql-ws reference server takes it;
        strawberry closed the socket with 4400."""
        if message.get("payload", {}) is None:
            message = ConnectionInitMessage(type="connection_init")
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self._expiry is not None:
            self._expiry.start(self.websocket, self.context)

    async def send_message(self, message: Message) -> None:
        """A query's result over the answer limit goes as an `error` for its id. (Only a
        query's is measured: a subscription's items, a post and a page of its comments,
        are far below the limit, and a mutation's answer is always sent.)"""
        if message["type"] == "next" and (operation := self.operations.get(message["id"])):
            view = cast(Any, self.view)
            if view.documents.is_query(operation.query, operation.operation_name) and (
                refusal := oversized(message, view.max_response_bytes)
            ):
                message = ErrorMessage(id=message["id"], type="error", payload=[refusal])
        await super().send_message(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        id_ = message["id"]
        if id_ in self.operations:  # strawberry's reason quotes the id whole
            await self.websocket.close(
                SUBSCRIBER_EXISTS, fitted(f"Subscriber for {id_} already exists")
            )
            return
        if refusal := limit_reached(self.max_subscriptions_per_connection, len(self.operations)):
            await self.send_message(ErrorMessage(id=id_, type="error", payload=[refusal]))
            return
        try:
            payload = await with_document(self.context, self.schema, dict(message["payload"]))
        except DocumentRefused as refused:
            await self.send_message(ErrorMessage(id=id_, type="error", payload=[refused.error]))
            return
        if refusal := selection_refusal(self.schema, payload):
            await self.send_message(ErrorMessage(id=id_, type="error", payload=[refusal]))
            return
        resolved = SubscribeMessage(id=id_, type="subscribe", payload=payload)  # type: ignore[typeddict-item]
        await super().handle_subscribe(resolved)
