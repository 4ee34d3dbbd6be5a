"""Who a request comes from, for counting."""

from __future__ import annotations

from starlette.types import Scope

from auth.authorization import presented_token


def client_address(scope: Scope) -> str:
    """The peer's address (uvicorn replaces it from X-Forwarded-For only for proxies the
    operator trusts: INKWELL_TRUSTED_PROXIES)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def bearer_token(scope: Scope) -> str | None:
    """The bearer token the request presents, read as auth/authorization.py reads it for
    verifying: every token verified is counted."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            token = presented_token(value.decode("latin-1"))
            return token if isinstance(token, str) else None
    return None
