"""The ASGI GraphQL endpoint: builds each request's context from its headers, and serves the
playground page it is given to browsers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema import BaseSchema

from schema.context import Context, Services


class TextFrames(ASGIWebSocketAdapter):
    """Sends WebSocket messages as text frames. strawberry sends bytes from `encode_json` as
    binary frames, and the graphql-ws client (in GraphiQL, the live page, Node) rejects
    those: "Message is missing the 'type' property"."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class InkwellGraphQL(GraphQL[Context, None]):
    """Services come from `app.state.services`, set by the app's lifespan. `playground` is the
    GraphiQL page a browser GET receives, rendered once by the composition root."""

    websocket_adapter_class = TextFrames

    def __init__(self, schema: BaseSchema, *, playground: str, **options: Any) -> None:
        super().__init__(schema, graphql_ide="graphiql", **options)
        self.playground = playground

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self.playground)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        services: Services = request.app.state.services
        viewer_id = _bearer_user(services, request.headers.get("authorization"))
        return Context(
            services=services,
            viewer_id=viewer_id,
            correlation_id=request.headers.get("x-request-id") or uuid.uuid4().hex,
            consistent_with=request.headers.get("x-consistent-with"),
        )

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> Any:
        return orjson.loads(data)


def _bearer_user(services: Services, authorization: str | None) -> str | None:
    """The user a valid `Bearer <token>` proves; None when absent or invalid (mutations then
    answer UNAUTHENTICATED, queries answer as for an anonymous reader)."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return services.tokens.verify(token.strip())
