"""The ASGI GraphQL endpoint: builds each request's context from its headers (refusing
bearer credentials that prove nothing: auth/authorization.py), speaks GraphQL over HTTP
(media types, status codes, GET for queries only, cache headers), resolves persisted
queries, and serves the playground page it is given to browsers."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.http.types import QueryParams
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from auth import authorization
from auth.authorization import Refused
from auth.tokens import Claims
from domain import ids
from protection.addresses import client_of
from protection.new_documents import refused_new_document
from protection.responses import refuse_handshake
from protection.subscription_budget import SubscriptionBudget
from protection.throttle import RateLimited
from schema import content_type, json_codec, media
from schema.context import Context, Services
from schema.errors import UNAVAILABLE, too_large
from schema.json_codec import TooManyContainers
from schema.legacy_sockets import LegacyWSHandler
from schema.multiplex import SharedSubscriptions
from schema.persisted import PersistedQueryRefused
from schema.request_keys import GRAPHQL_PARAMETERS, GivenTwice
from schema.sockets import TransportWSHandler

if TYPE_CHECKING:
    from schema.served import InkwellSchema

content_type.memoize()

HTTP_OPERATIONS = {
    "GET": {OperationType.QUERY},
    "POST": {OperationType.QUERY, OperationType.MUTATION},
}
HTTP_OPERATION_NAMES = {
    method: frozenset(kind.value for kind in kinds) for method, kinds in HTTP_OPERATIONS.items()
}
log = logging.getLogger(__name__)

CROSS_ORIGIN = (
    "A page on this origin may not open a WebSocket here; the server lists the origins "
    "that may (INKWELL_CORS_ORIGINS)."
)
NO_PLAYGROUND = (
    "There is no playground here: send a GraphQL request, "
    "a GET with ?query= or a POST with a JSON body."
)
# What a 405 lists in Allow: HEAD is answered as GET is.
ALLOWED_METHODS = "GET, HEAD, POST"

# Headers that change a GET's answer: a shared cache must key on them.
VARY = "Accept, Authorization, X-Consistent-With, Origin"
NOT_KEPT = ((b"vary", VARY.encode()), (b"cache-control", b"no-store"))


class InkwellGraphQL(GraphQL[Context, None]):
    """Services come from `app.state.services`, set by the app's lifespan."""

    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(
        self,
        schema: InkwellSchema,
        *,
        playground: str | None,
        playground_headers: Mapping[str, str] | None = None,
        cdn_max_age: int = 0,
        max_response_bytes: int | None = None,
        subscription_budget: SubscriptionBudget | None = None,
        **options: Any,
    ) -> None:
        """`playground` is the GraphiQL page a browser GET receives, with its headers
        (a Content-Security-Policy), built once by the composition root
        (web/playground.py); None serves no page (production). `cdn_max_age` is how long
        a shared cache may keep an anonymous GET query's answer (browsers always
        revalidate). An answer over `max_response_bytes` is not sent (_within_size).
        `subscription_budget` holds what each address's live subscriptions cost, for the
        WebSocket handlers (schema/sockets.py within_budget); None counts nothing."""
        if playground is None:
            options["graphql_ide"] = None
        super().__init__(schema, **options)
        self.documents = schema.operations  # its parse cache, shared
        self.runnable = schema.runnable
        self.outages = schema.outages
        self.playground = playground or ""
        self.playground_headers = dict(playground_headers or {})
        self.cdn_max_age = cdn_max_age
        self.max_response_bytes = max_response_bytes
        self.subscription_budget = subscription_budget
        self.shared = SharedSubscriptions()  # the handler below joins subscribers to it

    def parse_json(self, data: str | bytes) -> Any:
        """A request (or its variables) is a JSON object; strawberry 0.341.2 fails with a
        500 on a body of null, 5, true or "str"."""
        try:
            parsed = super().parse_json(data)
        except HTTPException as unreadable:
            if isinstance(unreadable.__cause__, GivenTwice | TooManyContainers):
                raise HTTPException(400, f"{unreadable.__cause__.msg}.") from None
            raise
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "A GraphQL request and its variables must be JSON objects.")
        return parsed

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """strawberry 0.341.2 checks the types of `query`, `variables` and `extensions`,
        not of `operationName`: a number or a list reached the document caches and failed
        there with a 500. A POST body it cannot read (not JSON, or not in UTF-8) is
        refused first: strawberry answers 400 where the specification's 415 says more."""
        if request.method == "POST" and (
            reason := content_type.unreadable(request.content_type or "")
        ):
            raise HTTPException(415, reason)
        data = await super().parse_http_body(request)
        if isinstance(data, GraphQLRequestData) and not isinstance(data.operation_name, str | None):
            raise HTTPException(
                400, "The GraphQL operation's `operationName` must be a string or null."
            )
        return data

    def parse_query_params(self, params: QueryParams) -> dict[str, Any]:
        """A GET's `variables` and `extensions` are JSON objects or null, as in a POST body
        (strawberry refused `variables=null` and called a bad value a bad body). Each
        GraphQL parameter comes at most once: Starlette's mapping keeps the last of
        `?query=a&query=b`, where a cache or a proxy may have read the first."""
        if isinstance(params, ImmutableMultiDict):
            for name in GRAPHQL_PARAMETERS:
                if (count := len(params.getlist(name))) > 1:
                    raise HTTPException(
                        400, f"The `{name}` parameter is given {count} times: give it once."
                    )
        parsed: dict[str, Any] = dict(params)
        for name in ("variables", "extensions"):
            if raw := parsed.get(name):
                parsed[name] = self._object_or_null(name, raw)
        return parsed

    def _object_or_null(self, name: str, raw: str) -> dict[str, Any] | None:
        refusal = HTTPException(400, f"The `{name}` parameter must be a JSON object or null.")
        try:
            value = self.decode_json(raw)
        except GivenTwice as twice:
            raise HTTPException(400, f"{twice.msg}.") from None
        except ValueError:
            raise refusal from None
        if not isinstance(value, dict | None):
            raise refusal
        return value

    async def reject_websocket(self, request: WebSocket) -> WebSocket:
        """A handshake from a page on an origin not allowed (INKWELL_CORS_ORIGINS): 403
        with a coded body, as every other refusal; strawberry's was an empty text/plain
        403, which a client cannot tell from any other."""
        await refuse_handshake(
            request.scope,
            request.receive,
            request.send,
            403,
            CROSS_ORIGIN,
            {"code": "FORBIDDEN"},
        )
        return request

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self.playground, headers=self.playground_headers)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        """A GET naming a persisted query has no `query` parameter, yet is no page view."""
        return "extensions" not in request.query_params and super().should_render_graphql_ide(
            request
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        # HEAD is answered as GET is (RFC 9110, 9.3.2: a CDN revalidating a cached query,
        # a monitor checking the endpoint); uvicorn, which still sees HEAD, drops the body.
        if scope["method"] == "HEAD":
            request = Request({**scope, "method": "GET"}, receive)
        else:
            request = Request(scope, receive)
        response = await self._answer(request)
        self._cache_headers(request, response)
        await response(scope, receive, send)

    async def _answer(self, request: Request) -> Response:
        media_type = media.negotiate(request.headers.get("accept"))
        request.state.media_type = media_type or media.JSON
        if media_type is None and not self.should_render_graphql_ide(
            self.request_adapter_class(request)
        ):
            return self._refusal(
                request, 406, "NOT_ACCEPTABLE", f"responses are {' or '.join(media.SUPPORTED)}"
            )
        try:
            return self._within_size(request, await self.run(request))
        except BadCredentials as bad:
            how = bad.refused
            challenge = {"www-authenticate": how.challenge}
            return self._refusal(request, how.status, how.code, how.message, challenge)
        except PersistedQueryRefused as refused:
            refusal = {"errors": [{"extensions": {"code": refused.code}}]}
            status = media.status_for(request.state.media_type, refusal, executed=False)
            return self._refusal(request, status, refused.extensions, str(refused))
        except HTTPException as error:
            if error.status_code == 405:
                message = _not_allowed(request, error)
                return self._refusal(request, 405, "METHOD_NOT_ALLOWED", message)
            if error.status_code == 404:  # a page view with the playground off
                return self._refusal(request, 404, "NOT_FOUND", NO_PLAYGROUND)
            # A body the endpoint cannot read is 415 (parse_http_body), with the code a
            # refused Content-Encoding gets (wiring/request_head.py).
            code = "UNSUPPORTED_MEDIA_TYPE" if error.status_code == 415 else "BAD_REQUEST"
            return self._refusal(request, error.status_code, code, error.reason)
        except self.outages as outage:  # before execution: a persisted query's lookup
            log.warning("store unavailable before execution: %r", outage)
            return self._refusal(request, 503, "UNAVAILABLE", UNAVAILABLE, {"retry-after": "1"})

    def _within_size(self, request: Request, response: Response) -> Response:
        """The answer, or a refusal in its place when it is over the limit: an answer is
        held in memory until the client has read all of it, so a client that asked for
        the largest pages and read nothing held tens of megabytes per connection. A
        mutation's answer is always sent: its writes are done, and it says where they are."""
        limit, size = self.max_response_bytes, len(response.body)
        if limit is None or size <= limit or not self._ran_a_query(request):
            return response
        request.state.cacheable = False
        log.warning("answer of %d bytes not sent: over %d", size, limit)
        refusal = {"errors": [{"extensions": {"code": "RESPONSE_TOO_LARGE"}}]}
        status = media.status_for(request.state.media_type, refusal, executed=False)
        return self._refusal(request, status, "RESPONSE_TOO_LARGE", too_large(size, limit))

    def _ran_a_query(self, request: Request) -> bool:
        asked: GraphQLRequestData | None = getattr(request.state, "asked", None)
        return asked is not None and self.documents.is_query(asked.query, asked.operation_name)

    def _refusal(
        self,
        request: Request,
        status: int,
        code: str | dict[str, str],
        message: str,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """A request refused before execution, as a GraphQL response without data; `code`
        is its extensions.code, or its extensions whole."""
        extensions = {"code": code} if isinstance(code, str) else code
        body = {"errors": [{"message": message, "extensions": extensions}]}
        if status == 405:
            headers = {"allow": ALLOWED_METHODS}
        media_type: str = request.state.media_type
        return Response(self.encode_json(body), status, headers, media_type=media_type)

    def _cache_headers(self, request: Request, response: Response) -> None:
        """Anonymous GET answers without errors may be kept by a CDN; browsers revalidate,
        so an app never reads its own stale page after a write. Nothing else is kept: a
        POST's answer says so too, for the caches and service workers that would (added
        as raw headers: through MutableHeaders it cost 1.6 µs a request, on every write)."""
        if request.method != "GET":
            response.raw_headers.extend(NOT_KEPT)
            return
        if "cache-control" in response.headers:  # the playground page's own
            return
        response.headers.append("vary", VARY)
        personal = "authorization" in request.headers or "x-consistent-with" in request.headers
        if response.status_code == 200 and getattr(request.state, "cacheable", False):
            response.headers["cache-control"] = (
                "private, no-store"
                if personal or self.cdn_max_age <= 0
                else f"public, max-age=0, s-maxage={self.cdn_max_age}"
            )
        else:
            response.headers["cache-control"] = "no-store"

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Runs one operation. GET runs queries only (a mutation is 405); subscriptions are
        served over WebSocket only (strawberry would run one over HTTP as if a query).
        A well-formed request that selects no operation to run (an unknown name, several
        operations and no name, a subscription) fails as a GraphQL request error: its
        status follows the media type, like a validation error's."""
        given = request_data.query
        if refused := await refused_new_document(context, given):
            return ExecutionResult(data=None, errors=[refused])
        request_data.query = await context.services.documents.resolve(
            request_data.query,
            request_data.extensions,
            functools.partial(
                self.runnable,
                operation_name=request_data.operation_name,
                variables=request_data.variables,
                allowed=HTTP_OPERATION_NAMES[request_adapter.method],
            ),
        )
        if given is None and (refused := await refused_new_document(context, request_data.query)):
            return ExecutionResult(data=None, errors=[refused])  # a persisted one, parsed again
        if reason := self.documents.unselectable(request_data.query, request_data.operation_name):
            return request_error(reason)
        request.state.asked = request_data  # what _within_size looks at, if ever
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=HTTP_OPERATIONS[request_adapter.method],
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as error:
            if request_adapter.method == "GET" and error.operation_type is OperationType.MUTATION:
                raise HTTPException(405, "mutations are not allowed over GET: use POST") from error
            return request_error(
                "subscriptions are served over WebSocket (graphql-transport-ws) on /graphql"
            )
        except MissingQueryError as error:
            raise HTTPException(400, "No GraphQL query found in the request") from error

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """Sets the status the result's media type calls for (on the request's sub-response,
        which create_response reads), and drops `data` where that media type wants none."""
        processed = await super().process_result(request, result)
        executed = result.data is not None or any(error.path for error in result.errors or ())
        media_type: str = request.state.media_type
        sub_response: Response = request.state.sub_response
        sub_response.status_code = media.status_for(media_type, dict(processed), executed)
        if sub_response.status_code == 429 and (wait := media.retry_after(dict(processed))):
            # What RetryLinks and fetch wrappers read: they never parse extensions.
            sub_response.headers["retry-after"] = str(wait)
        request.state.cacheable = not result.errors
        if not executed:  # "the data entry should not be present" (GraphQL spec, Response)
            processed.pop("data", None)
        return processed

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = request.state.media_type
        request.state.sub_response = sub_response
        return sub_response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = Response(
            json_codec.encode_bytes(response_data),
            status_code=sub_response.status_code or 200,
            media_type=sub_response.media_type or media.JSON,
        )
        response.headers.raw.extend(sub_response.headers.raw)
        response.background = sub_response.background
        return response

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        """Over HTTP, bearer credentials that prove nothing refuse the request (BadCredentials);
        over WebSocket, on_ws_connect refuses them once it has read connection_init."""
        services: Services = request.app.state.services
        found = authorization.credentials(services.tokens, request.headers.get("authorization"))
        if isinstance(found, Refused) and isinstance(request, Request):
            raise BadCredentials(found)
        claims = found if isinstance(found, Claims) else None
        return Context(
            services=services,
            viewer_id=claims.user_id if claims else None,
            viewer_expires=claims.expires if claims else None,
            correlation_id=request.headers.get("x-request-id") or ids.uuid4().hex,
            consistent_with=request.headers.get("x-consistent-with"),
            client_address=request.client.host if request.client else None,
            handshake_authorization=(
                request.headers.get("authorization") if isinstance(request, WebSocket) else None
            ),
            scope=request.scope if isinstance(request, Request) else None,
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Browsers cannot set headers on a WebSocket: the token comes in connection_init,
        as {"Authorization": "Bearer ..."}; other clients may send it in the handshake's
        header instead (connection_init's wins). Bearer credentials that prove nothing,
        from either, close with 4403 (where HTTP answers 401 or 400), connection_init's
        counting as a guess (protection/throttle.py; the handshake's were counted by
        protection/websocket_guard.py); another scheme's are not Inkwell's, as over HTTP.
        From an address past its limit on bad tokens, any token closes with 4403 unchecked
        (protection/guessers.py)."""
        params = context.connection_params or {}
        if "Authorization" in params and "authorization" in params:
            # Which one counts is up to whoever reads it, as for two headers over HTTP
            # (wiring/request_head.py): the first spelling won, whatever the second said.
            raise ConnectionRejectionError(
                {"message": "connection_init gives Authorization twice; send it once"}
            )
        sent: object = params.get("Authorization", params.get("authorization"))
        if sent not in (None, "") and (guessing := _guessing(context)):
            raise ConnectionRejectionError({"message": str(guessing)})
        found = _socket_credentials(context, sent)
        if isinstance(found, Refused):
            await _count_guess(context)
        elif found is None:
            handshake = context.handshake_authorization
            found = authorization.credentials(context.services.tokens, handshake)
        if isinstance(found, Refused):
            raise ConnectionRejectionError({"message": "the bearer token is not valid"})
        if found is not None:
            context.viewer_id, context.viewer_expires = found
        unset: UnsetType = UNSET
        return unset

    def encode_json(self, data: object) -> str:
        return json_codec.encode(data)

    def decode_json(self, data: str | bytes) -> Any:
        return json_codec.decode(data)


def _not_allowed(request: Request, error: HTTPException) -> str:
    """A mutation over GET keeps its own reason; any other method (TRACE, OPTIONS without
    CORS, PUT ...) is told what Allow lists, where strawberry said "GraphQL only supports
    GET and POST requests" beside an Allow that lists HEAD too."""
    if request.method in HTTP_OPERATIONS:
        return error.reason
    return f"{request.method} is not allowed on /graphql; it takes GET, HEAD or POST."


def request_error(message: str) -> ExecutionResult:
    """A GraphQL request error raised before execution, as strawberry's own are."""
    return ExecutionResult(
        data=None, errors=[GraphQLError(message, extensions={"code": "BAD_REQUEST"})]
    )


def _socket_credentials(context: Context, sent: object) -> Claims | Refused | None:
    """What connection_init's Authorization proves; a number, a list or an object is no
    more a token than a wrong string is."""
    if sent is None or sent == "":
        return None
    if not isinstance(sent, str):
        return authorization.INVALID_TOKEN
    return authorization.credentials(context.services.tokens, sent)


def _guessing(context: Context) -> RateLimited | None:
    """The refusal of an address past its limit on bad tokens: its connection_init
    tokens are refused unchecked meanwhile, valid ones too, as over HTTP."""
    throttle = context.services.throttle
    if throttle is None or context.client_address is None:
        return None
    return throttle.guessing(client_of(context))


async def _count_guess(context: Context) -> None:
    """A connection_init token that does not verify counts against the address's limit on
    bad tokens, as an HTTP request's does; it is refused either way."""
    throttle = context.services.throttle
    if throttle is not None and context.client_address is not None:
        with contextlib.suppress(RateLimited):
            await throttle.hit(throttle.bad_tokens, client_of(context))


class BadCredentials(Exception):
    """Raised by get_context for an HTTP request whose bearer credentials prove nothing;
    _answer refuses it as `refused` says, before anything runs."""

    def __init__(self, refused: Refused) -> None:
        super().__init__(refused.message)
        self.refused = refused
