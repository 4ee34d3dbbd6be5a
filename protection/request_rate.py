"""Rate limits on GraphQL HTTP requests: per client address, per user, and on bearer
tokens that do not verify (guessing). Refused with 429, RATE_LIMITED and retryAfter."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from protection.addresses import bearer_token, client_address
from protection.responses import refuse
from protection.throttle import RateLimited, Throttle


class RequestRate:
    """Reads the Throttle from `app.state.throttle` (None when rate limits are off)."""

    def __init__(self, app: ASGIApp, path: str = "/graphql") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        throttle: Throttle | None = (
            getattr(scope["app"].state, "throttle", None) if "app" in scope else None
        )
        if scope["type"] != "http" or scope["path"] != self.path or throttle is None:
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        try:
            await throttle.hit(throttle.requests, address)
            token = bearer_token(scope)
            if token is not None:
                user = scope["app"].state.services.tokens.verify(token)
                if user is None:
                    await throttle.hit(throttle.bad_tokens, address)
                else:
                    await throttle.hit(throttle.per_token, user)
        except RateLimited as limited:
            await refuse(
                scope,
                send,
                429,
                str(limited),
                {"code": "RATE_LIMITED", "retryAfter": limited.retry_after},
                {"Retry-After": str(limited.retry_after)},
            )
            return
        await self.app(scope, receive, send)
