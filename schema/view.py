"""The ASGI GraphQL endpoint: builds each request's context from its headers, and serves the
playground page it is given to browsers."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.types.unset import UNSET, UnsetType

from schema.context import Context, Services
from schema.multiplex import SharedSubscriptions, SharingTransportWSHandler

if TYPE_CHECKING:
    from strawberry.schema import BaseSchema


class InkwellGraphQL(GraphQL[Context, None]):
    """Services come from `app.state.services`, set by the app's lifespan."""

    def __init__(self, schema: BaseSchema, *, playground: str, **options: Any) -> None:
        """`playground` is the GraphiQL page a browser GET receives, built once by the
        composition root (web/playground.py)."""
        super().__init__(schema, **options)
        self.playground = playground
        self.shared = SharedSubscriptions()  # the handler below joins subscribers to it

    graphql_transport_ws_handler_class = SharingTransportWSHandler

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
            client_address=request.client.host if request.client else None,
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Browsers cannot set headers on a WebSocket: the token comes in connection_init,
        as {"Authorization": "Bearer ..."}. A token that does not verify closes with 4403."""
        params = context.connection_params or {}
        authorization: object = params.get("Authorization") or params.get("authorization")
        if isinstance(authorization, str) and authorization:
            viewer_id = _bearer_user(context.services, authorization)
            if viewer_id is None:
                raise ConnectionRejectionError({"message": "the bearer token is not valid"})
            context.viewer_id = viewer_id
        unset: UnsetType = UNSET
        return unset

    def encode_json(self, data: object) -> str:
        # Text, not bytes: strawberry sends bytes as binary WebSocket frames, which
        # graphql-ws clients refuse.
        return orjson.dumps(data).decode()

    def decode_json(self, data: str | bytes) -> Any:
        return orjson.loads(data)


class ClientGone(logging.Filter):
    """For strawberry's WebSocket task logger: drops the ERROR it logs when a subscription
    item meets a client that has just disconnected. That is how live clients leave."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, WebSocketDisconnected)


def _bearer_user(services: Services, authorization: str | None) -> str | None:
    """The user a valid `Bearer <token>` proves; None when absent or invalid (mutations then
    answer UNAUTHENTICATED, queries answer as for an anonymous reader)."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return services.tokens.verify(token.strip())
