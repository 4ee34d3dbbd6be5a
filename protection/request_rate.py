"""Rate limits on HTTP requests: per client address on every route but /health, and on
/graphql per user and on bearer tokens that do not verify (guessing). Refused with 429,
RATE_LIMITED and retryAfter.

Only /graphql was counted once. /metrics and /ready cost 2.5-3.3 ms of CPU an answer
(/graphql's `{ __typename }`, 0.24 ms): 32 connections flooding /metrics from one address
took another address's `{ __typename }` from p50 2.2 ms to 47 ms, and 8 connections pulled
6 GB of GraphiQL's script in 20 s. /health alone is not counted: an orchestrator restarts
a process whose liveness probe fails, so a probe must never be refused, and counting it
(a Redis round trip) would cost more than answering it (0.2 ms)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from protection.addresses import bearer_token, client_address
from protection.responses import refuse, too_many
from protection.throttle import RateLimited, throttle_in

UNCOUNTED = frozenset({"/health"})
# The route that reads a bearer token: its requests are counted per user too, and a token
# that does not verify counts as a guess.
TOKEN_PATH = "/graphql"


class RequestRate:
    """Reads the Throttle from `app.state.throttle` (None when rate limits are off)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        throttle = throttle_in(scope)
        if scope["type"] != "http" or scope["path"] in UNCOUNTED or throttle is None:
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        counts = [(throttle.requests, address)]
        token = bearer_token(scope) if scope["path"] == TOKEN_PATH else None
        if token is not None:
            if guessing := throttle.guessing(address):
                await refuse(scope, send, *too_many(guessing))
                return
            user = scope["app"].state.services.tokens.verify(token)
            counts.append(
                (throttle.bad_tokens, address) if user is None else (throttle.per_token, user)
            )
        try:
            # All or none: a request refused for its token's count was kept in its
            # address's, which then refused the address's anonymous requests early (a
            # re-check probe: 15 of 20 answered).
            await throttle.hit_all(counts)
        except RateLimited as limited:
            await refuse(scope, send, *too_many(limited))
            return
        await self.app(scope, receive, send)
