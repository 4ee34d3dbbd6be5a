"""CORS preflights from listed origins, counted as the requests they are.

web/cors.py answers a preflight from a listed origin itself, ahead of the request rate
(protection/request_rate.py), which it must stay behind so that a 429 carries the CORS
headers a browser app needs to read it. So preflights were never counted: 3,000 from one
address were all answered, and it then got its full 1,200 requests a minute. And Starlette
checks every header a preflight's Access-Control-Request-Headers names: 5,000 of them in
a 65 KB head (within the header limit) took about 1.2 ms each, and 32 connections sending
such preflights held another client's `{ __typename }` at p50 125-163 ms (an outside
probe). Here, in front of the CORS layer, a listed origin's preflight is counted against
its address's request rate (429 past it), and one naming more than MAX_REQUESTED_HEADERS
headers is refused unread: a browser names the few non-safelisted headers the request
sends.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from protection.addresses import client_address
from protection.responses import refuse, too_many
from protection.throttle import RateLimited, throttle_in
from web.cors import listed

MAX_REQUESTED_HEADERS = 64


class PreflightRate:
    def __init__(self, app: ASGIApp, origins: Collection[str]) -> None:
        self.app = app
        self.origins = frozenset(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "OPTIONS":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if "access-control-request-method" not in headers or not listed(
            self.origins, headers.get("origin")
        ):
            await self.app(scope, receive, send)
            return
        if headers.get("access-control-request-headers", "").count(",") >= MAX_REQUESTED_HEADERS:
            message = (
                f"Access-Control-Request-Headers may name at most {MAX_REQUESTED_HEADERS} headers."
            )
            await refuse(scope, send, 400, message, {"code": "BAD_REQUEST"})
            return
        throttle = throttle_in(scope)
        if throttle is not None:
            try:
                await throttle.hit(throttle.requests, client_address(scope))
            except RateLimited as limited:
                await refuse(scope, send, *too_many(limited))
                return
        await self.app(scope, receive, send)
