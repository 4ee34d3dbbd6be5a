"""The Host names a request may be addressed to: the answer to DNS rebinding.

A page on a name its owner controls (`evil.example`) can have that name resolve to
127.0.0.1 once the page has loaded; the browser then sends the page's requests, and
opens its WebSockets, to the developer's local Inkwell, with `Host: evil.example` and
(for a WebSocket) `Origin: http://evil.example`, which strawberry's WebSocket check
took for the same origin. Every route answered whatever the Host. Django's
ALLOWED_HOSTS and Starlette's TrustedHostMiddleware refuse such requests; so does
this, with 421 MISDIRECTED_REQUEST (a WebSocket handshake too), before anything else
runs. Only the Host header counts: X-Forwarded-Host is never read.

What is accepted:

- a Host that is an IP address, any port: a page whose URL names an address needs no
  DNS, so it cannot be rebound (and load balancers and Kubernetes probes name the
  address they reach);
- `localhost`, any port: no one else can serve a page under that name;
- the names INKWELL_ALLOWED_HOSTS lists (`blog.example.com`, `*.example.com` for its
  subdomains, `*` for any name);
- with no list, any name on a connection that did not arrive on a loopback address.
  Without a list, a connection to 127.0.0.1 or ::1, the developer's own machine, is
  served only under the names above, wherever the server listens.

Why a server that listens beyond loopback with no list still accepts any name (and
says so at startup): Inkwell authenticates by bearer tokens a page must hold itself,
never by cookies or the client's address, so a rebound page gets from a server it
could reach directly no more than its owner gets by asking directly. What rebinding
adds is reach into a network the page's owner cannot reach: an intranet, a developer's
LAN address. Behind a proxy or on a platform, the Host is whatever they send (a service
name, a pod's address), which the server cannot guess; refusing to start without a
list would stop every such deployment at its next upgrade.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Collection

from starlette.types import ASGIApp, Receive, Scope, Send

from protection.responses import refuse, refuse_handshake

MISDIRECTED = 421
VARIABLE = "INKWELL_ALLOWED_HOSTS"
MESSAGE = f"This server does not answer for the Host this request names ({VARIABLE})."
# A name (letters, digits, dots, hyphens; underscores, as Docker's service names have),
# or an IPv6 address in brackets; then an optional port.
_HOST = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))(?::[0-9]{0,5})?")
# An entry: `*`, or a name of dot-separated labels, none empty or starting or ending
# with a hyphen, after an optional `*.` (`a..b` and `-a.b` were taken, and matched nothing).
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
_ENTRY = re.compile(rf"\*|(?:\*\.)?{_LABEL}(?:\.{_LABEL})*")
ALWAYS = frozenset({"localhost"})


class BadAllowedHosts(ValueError):
    pass


def parse_allowed_hosts(value: str) -> tuple[str, ...] | None:
    """INKWELL_ALLOWED_HOSTS: comma-separated names without scheme or port; None when
    unset (the default above)."""
    # A name's final dot goes (`example.com.`); `*.` keeps it, and is refused: stripped,
    # it was `*`, every name.
    entries = tuple(_without_final_dot(entry.strip().lower()) for entry in value.split(","))
    entries = tuple(entry for entry in entries if entry)
    for entry in entries:
        if not _ENTRY.fullmatch(entry):
            raise BadAllowedHosts(
                f"{VARIABLE}: {entry!r} is not a host name; list names as a browser's URL "
                "has them, without scheme or port (blog.example.com, *.example.com, or *)"
            )
    return entries or None


def _without_final_dot(entry: str) -> str:
    return entry if entry.endswith("*.") else entry.rstrip(".")


@functools.lru_cache(maxsize=1024)
def host_of(header: bytes) -> tuple[str, bool] | None:
    """The name in a Host header, lowercased, without its port or a final dot, and whether
    it is an IP address; None when it is neither a name nor an address."""
    found = _HOST.fullmatch(header.decode("latin-1").strip())
    if found is None:
        return None
    if found["v6"] is not None:
        return (found["v6"].lower(), True) if _is_address(found["v6"]) else None
    name = found["name"].lower().rstrip(".")
    return (name, _is_address(name)) if name else None


def on_loopback(scope: Scope) -> bool:
    """Whether the connection arrived on a loopback address of this machine."""
    server = scope.get("server")
    return server is not None and is_loopback(str(server[0]))


@functools.lru_cache(maxsize=64)  # the addresses the server listens on: a few
def is_loopback(host: str) -> bool:
    """Whether `host` (an address, or `localhost`) is one of this machine's loopback
    addresses; a unix socket's path or an ASGI test client's name is not."""
    if host.lower() in ALWAYS:
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class AllowedHosts:
    def __init__(self, app: ASGIApp, names: Collection[str] | None) -> None:
        """`names`: INKWELL_ALLOWED_HOSTS, parsed; None when unset."""
        self.app = app
        self.names = frozenset(names) if names is not None else None
        self.any_name = self.names is not None and "*" in self.names
        self.suffixes = tuple(name[1:] for name in self.names or () if name.startswith("*."))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.allows(scope):
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await refuse(scope, send, MISDIRECTED, MESSAGE, {"code": "MISDIRECTED_REQUEST"})
        else:
            code = {"code": "MISDIRECTED_REQUEST"}
            await refuse_handshake(scope, receive, send, MISDIRECTED, MESSAGE, code)

    def allows(self, scope: Scope) -> bool:
        header = next((value for name, value in scope["headers"] if name == b"host"), None)
        if header is None:  # HTTP/1.0 (HTTP/1.1 requires it: wiring/request_head.py)
            return True
        host = host_of(header)
        if host is None:
            return False
        name, is_address = host
        if is_address or name in ALWAYS:
            return True
        if self.names is None:
            return not on_loopback(scope)
        return self.any_name or name in self.names or name.endswith(self.suffixes)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
