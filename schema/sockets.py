"""The WebSocket protocols' subscribe messages go through the same persisted-query rules as
HTTP requests: a trusted-documents server runs only listed documents over either."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLFormattedError
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ErrorMessage,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ErrorMessage as LegacyError
from strawberry.subscriptions.protocols.graphql_ws.types import StartMessage

from schema.context import Context
from schema.multiplex import SharingTransportWSHandler
from schema.persisted import PersistedQueryRefused


async def _resolved(context: Context, payload: dict[str, Any]) -> dict[str, Any]:
    query = await context.services.documents.resolve(
        payload.get("query"), payload.get("extensions")
    )
    return {**payload, "query": query}


def _error(refused: PersistedQueryRefused) -> GraphQLFormattedError:
    return {"message": str(refused), "extensions": {"code": refused.code}}


class TransportWSHandler(SharingTransportWSHandler):
    """graphql-transport-ws (the graphql-ws npm client's protocol), sharing subscriptions
    as schema/multiplex.py does."""

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        try:
            payload = await _resolved(self.context, dict(message["payload"]))
        except PersistedQueryRefused as refused:
            error = ErrorMessage(id=message["id"], type="error", payload=[_error(refused)])
            await self.send_message(error)
            return
        resolved = SubscribeMessage(id=message["id"], type="subscribe", payload=payload)  # type: ignore[typeddict-item]
        await super().handle_subscribe(resolved)


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """The legacy subscriptions-transport-ws protocol."""

    async def handle_start(self, message: StartMessage) -> None:
        try:
            payload = await _resolved(self.context, dict(message["payload"]))
        except PersistedQueryRefused as refused:
            await self.send_message(
                LegacyError(type="error", id=message["id"], payload=_error(refused))
            )
            return
        resolved = StartMessage(id=message["id"], type="start", payload=payload)  # type: ignore[typeddict-item]
        await super().handle_start(resolved)
