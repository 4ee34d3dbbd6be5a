"""Who a request comes from, for counting.

Every limit counted per client address counts an IPv6 client by its /64: that is what one
host, or one home or phone, is given (RFC 6177), and any VPS can send from all 2^64 of
its addresses. Counted one by one, an outside probe registered 60 accounts of 60 from
one /64 where one address got 10 a minute, and every other per-address limit (requests,
query cost, sockets, connections) was as good as none.
"""

from __future__ import annotations

import functools
import ipaddress

from starlette.types import Scope

from auth.authorization import presented_token

IPV6_PREFIX = 64


def client_address(scope: Scope) -> str:
    """What the peer's limits are counted under (counted_as): uvicorn replaces the peer's
    address from X-Forwarded-For only for proxies the operator trusts
    (INKWELL_TRUSTED_PROXIES)."""
    client = scope.get("client")
    return counted_as(str(client[0])) if client else "unknown"


def client_of(ctx: object) -> str:
    """What a request context's client (schema/context.py, `client_address`) is counted
    under, as client_address says of a scope's."""
    return counted_as(getattr(ctx, "client_address", None) or "unknown")


@functools.lru_cache(maxsize=1024)  # asked several times a request: one parse an address
def counted_as(address: str) -> str:
    """An IPv4 address as it is; an IPv6 address as its /64 (`2001:db8:1:2::/64`), or as
    the IPv4 address it maps (`::ffff:192.0.2.1`); anything else as it is."""
    if ":" not in address:
        return address
    try:
        ip = ipaddress.IPv6Address(address)
    except ValueError:
        return address
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))


def bearer_token(scope: Scope) -> str | None:
    """The bearer token the request presents, read as auth/authorization.py reads it for
    verifying: every token verified is counted."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            token = presented_token(value.decode("latin-1"))
            return token if isinstance(token, str) else None
    return None
