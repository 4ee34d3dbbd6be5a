"""The WebSocket protocols' subscribe messages go through the same persisted-query rules as
HTTP requests: a trusted-documents server runs only listed documents over either. Messages
of the wrong shape close the socket with 4400 before strawberry's handlers see them."""

from __future__ import annotations

from typing import Any, cast

from graphql import GraphQLFormattedError
from strawberry.schema.base import BaseSchema
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ErrorMessage,
    Message,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ErrorMessage as LegacyError
from strawberry.subscriptions.protocols.graphql_ws.types import OperationMessage, StartMessage

from schema import InkwellSchema
from schema.context import Context
from schema.multiplex import SharingTransportWSHandler
from schema.operations import SEVERAL_OPERATIONS
from schema.persisted import PersistedQueryRefused

INVALID_MESSAGE = 4400  # graphql-transport-ws: "Invalid message received"


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


async def _resolved(context: Context, payload: dict[str, Any]) -> dict[str, Any]:
    query = await context.services.documents.resolve(
        payload.get("query"), payload.get("extensions")
    )
    return {**payload, "query": query}


def _error(refused: PersistedQueryRefused) -> GraphQLFormattedError:
    return {"message": str(refused), "extensions": {"code": refused.code}}


def _unnamed_among_several(schema: BaseSchema, payload: dict[str, Any]) -> bool:
    """A subscribe that names no operation of a document holding several: refused as over
    HTTP (schema/view.py), where strawberry would run the first."""
    operations = cast(InkwellSchema, schema).operations
    return payload.get("operationName") is None and operations.several_operations(payload["query"])


SEVERAL: GraphQLFormattedError = {
    "message": SEVERAL_OPERATIONS,
    "extensions": {"code": "BAD_REQUEST"},
}


class TransportWSHandler(SharingTransportWSHandler):
    """graphql-transport-ws (the graphql-ws npm client's protocol), sharing subscriptions
    as schema/multiplex.py does."""

    async def handle_message(self, message: Message) -> None:
        if reason := malformed(message, "subscribe", "complete"):
            await self.handle_invalid_message(reason)
            return
        await super().handle_message(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        try:
            payload = await _resolved(self.context, dict(message["payload"]))
        except PersistedQueryRefused as refused:
            error = ErrorMessage(id=message["id"], type="error", payload=[_error(refused)])
            await self.send_message(error)
            return
        if _unnamed_among_several(self.schema, payload):
            await self.send_message(ErrorMessage(id=message["id"], type="error", payload=[SEVERAL]))
            return
        resolved = SubscribeMessage(id=message["id"], type="subscribe", payload=payload)  # type: ignore[typeddict-item]
        await super().handle_subscribe(resolved)


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """The legacy subscriptions-transport-ws protocol. It names no close code for a
    malformed message: it gets graphql-transport-ws's."""

    async def handle_message(self, message: OperationMessage) -> None:
        if reason := malformed(message, "start", "stop"):
            await self.websocket.close(code=INVALID_MESSAGE, reason=reason)
            return
        await super().handle_message(message)

    async def handle_start(self, message: StartMessage) -> None:
        try:
            payload = await _resolved(self.context, dict(message["payload"]))
        except PersistedQueryRefused as refused:
            await self.send_message(
                LegacyError(type="error", id=message["id"], payload=_error(refused))
            )
            return
        if _unnamed_among_several(self.schema, payload):
            await self.send_message(LegacyError(type="error", id=message["id"], payload=SEVERAL))
            return
        resolved = StartMessage(id=message["id"], type="start", payload=payload)  # type: ignore[typeddict-item]
        await super().handle_start(resolved)
