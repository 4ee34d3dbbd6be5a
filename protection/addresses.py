"""Who a request comes from, for counting."""

from __future__ import annotations

from starlette.types import Scope


def client_address(scope: Scope) -> str:
    """The peer's address (uvicorn replaces it from X-Forwarded-For only for proxies the
    operator trusts: INKWELL_TRUSTED_PROXIES)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer":
                return None
            return token.strip() or None
    return None
