"""CORS for the origins INKWELL_CORS_ORIGINS lists; requests from any other origin pass by
untouched, exactly as they would with no allow-list at all. The request headers they may
send are ALLOWED_HEADERS and those INKWELL_CORS_HEADERS adds."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from urllib.parse import urlsplit

import orjson
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# What a browser app may send: the bearer token, the read-your-writes position, the
# request id it correlates logs with, the headers Apollo Client adds, and those tracing
# adds to every fetch. A preflight asking for any other header fails whole (400
# "Disallowed CORS headers"), so turning on OpenTelemetry's or Sentry's fetch
# instrumentation took every request of the app down.
ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "X-Consistent-With",
    "X-Request-Id",
    "apollographql-client-name",
    "apollographql-client-version",
    "apollo-require-preflight",
    "X-Apollo-Operation-Name",  # Apollo Kotlin and Apollo iOS
    "X-Apollo-Operation-Id",
    "traceparent",  # W3C Trace Context: OpenTelemetry
    "tracestate",
    "sentry-trace",  # Sentry
    "baggage",  # W3C Baggage: Sentry, OpenTelemetry
)
# What its scripts may read: the request id, how long to wait when rate limited, the
# methods a 405 allows, and why a bearer token was refused (a 401's challenge).
EXPOSED_HEADERS = ("X-Request-Id", "Retry-After", "Allow", "WWW-Authenticate")


class ListedOriginsCors:
    """Starlette's CORSMiddleware, applied only to requests whose Origin is listed ("*"
    lists every origin). Credentials are not allowed: the API authenticates by bearer
    token, never by cookie, so no listed origin can act with a reader's ambient rights."""

    def __init__(
        self, app: ASGIApp, origins: Collection[str], headers: Collection[str] = ()
    ) -> None:
        """`headers`: request headers allowed beyond ALLOWED_HEADERS."""
        self.app = app
        self.origins = frozenset(origins)
        self.cors = CodedRefusalsCors(
            app,
            allow_origins=sorted(self.origins),
            allow_methods=("GET", "POST"),
            allow_headers=(*ALLOWED_HEADERS, *headers),
            expose_headers=EXPOSED_HEADERS,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and listed(self.origins, Headers(scope=scope).get("origin")):
            await self.cors(scope, receive, _vary_once(send))
        else:
            await self.app(scope, receive, send)


def listed(origins: Collection[str], origin: str | None) -> bool:
    """Whether requests from `origin` get CORS headers ("*" lists every origin)."""
    return origin is not None and ("*" in origins or origin in origins)


class CodedRefusalsCors(CORSMiddleware):
    """A preflight it refuses (a method or header not allowed) is a GraphQL response with
    `extensions.code`, as every other refusal is; Starlette's was text/plain
    ("Disallowed CORS method")."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        message = bytes(response.body).decode()
        body = {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}
        kept = {
            name: value
            for name, value in response.headers.items()
            if name not in ("content-type", "content-length")
        }
        return Response(orjson.dumps(body), response.status_code, kept, "application/json")


def _vary_once(send: Send) -> Send:
    """The view's Vary already names Origin on a GET; Starlette's middleware appends it
    again ("Vary: ..., Origin, Origin"). Each name is kept once, in order."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(raw=list(message["headers"]))
            if "vary" in headers:
                names = [name.strip() for name in headers["vary"].split(",")]
                headers["vary"] = ", ".join(dict.fromkeys(name for name in names if name))
                message = {**message, "headers": headers.raw}
        await send(message)

    return sending


class BadOrigin(ValueError):
    pass


class BadHeaderName(ValueError):
    pass


def parse_origins(value: str) -> tuple[str, ...]:
    """INKWELL_CORS_ORIGINS: comma-separated origins, each `scheme://host[:port]` (no path,
    no trailing slash), or `*`. Each is kept as a browser sends it in Origin (RFC 6454
    6.2): `https://App.Example.com:443` as `https://app.example.com`. Kept as written,
    it never matched, and the app's requests and WebSocket from that origin were refused
    with nothing in the logs (an outside probe)."""
    origins = []
    for written in (origin.strip() for origin in value.split(",")):
        if not written:
            continue
        origin = "*" if written == "*" else _as_browsers_send(written)
        if origin is None:
            raise BadOrigin(
                f"INKWELL_CORS_ORIGINS: {written!r} is not an origin; write it as a browser "
                "sends it, e.g. http://localhost:5173 (no path, no trailing slash, no "
                "wildcard in it: list each origin, or *)"
            )
        origins.append(origin)
    return tuple(origins)


_HOST_NAME = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")
# A name whose last label is a number is an IPv4 address to a browser, which writes
# `127.1` and `0x7f.0.0.1` as 127.0.0.1, and refuses `example.123`.
_AFTER_BRACKET = re.compile(r"(:[0-9]*)?")
_ENDS_IN_A_NUMBER = re.compile(r"(.*\.)?(0x[0-9a-f]*|[0-9]+)")


def _as_browsers_send(origin: str) -> str | None:
    """Scheme and host in lowercase, an IP address in its shortest form, the scheme's
    default port left out; None for what no browser sends as an http(s) origin (a path,
    a user name, a port out of range, a wildcard, an IPv6 zone, a name not in ASCII:
    browsers send a name's punycode)."""
    scheme, separator, authority = origin.partition("://")
    if scheme.lower() not in ("http", "https") or not separator or not origin.isascii():
        return None
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if not host or "@" in authority or any(mark in authority for mark in "/?#%"):
        return None
    bracketed = authority.startswith("[")
    if bracketed and not _AFTER_BRACKET.fullmatch(authority.partition("]")[2]):
        return None  # `[::1]3000`: urlsplit drops what follows `]` up to a colon
    try:
        address = ipaddress.IPv6Address(host) if bracketed else ipaddress.IPv4Address(host)
    except ValueError:  # a name: browsers send it in LDH labels
        if bracketed or not _HOST_NAME.fullmatch(host) or _ENDS_IN_A_NUMBER.fullmatch(host):
            return None
    else:  # as browsers write an address: [::1], not [0:0:0:0:0:0:0:1]
        host = f"[{address.compressed}]" if bracketed else address.compressed
    default = 80 if parts.scheme == "http" else 443
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


# RFC 9110 5.1: a field name is a token.
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def parse_headers(value: str) -> tuple[str, ...]:
    """INKWELL_CORS_HEADERS: comma-separated request header names a listed origin may send
    besides ALLOWED_HEADERS (a tracing vendor's, an app's own). Each is named: `*` would
    let the listed origins send anything."""
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    for name in names:
        if name == "*" or not _FIELD_NAME.fullmatch(name):
            raise BadHeaderName(
                f"INKWELL_CORS_HEADERS: {name!r} is not a header name; name each header "
                "a browser app sends, e.g. x-datadog-trace-id, b3"
            )
    return names
