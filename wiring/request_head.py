"""What a request's line and headers must be before the app sees them: checked once the
parser has them all (wiring/http_protocol.py), in one pass over the header list.

httptools (llhttp) refuses most malformed heads itself: a duplicate or negative
Content-Length, Content-Length with Transfer-Encoding, obs-fold, bare LF, control
characters, an unknown method. It lets through what is well-formed but ambiguous or
unsupported, and those are refused here:

- more than one Host, Authorization, Content-Type or X-Consistent-With: which one counts
  is up to whoever reads it. Starlette's `request.headers.get` (schema/view.py) takes the
  first, so `Authorization: Bearer <valid>` then `Bearer junk` signed a createPost in,
  while a proxy that takes the last would have seen junk;
- an HTTP/1.1 request without a Host header (RFC 9112 3.2: 400);
- a transfer coding other than `chunked` (`gzip, chunked` was read as if plain; RFC 9112
  6.1: 501) and a content coding other than `identity` (a gzip body was read as JSON;
  RFC 9110 15.5.16: 415);
- a request line that names a host (absolute-form, `POST http://evil.example/graphql`):
  RFC 9112 3.2.2 has the server use that host and ignore Host, which uvicorn does not
  (it keeps the path alone), so a listed Host let an unlisted target through
  INKWELL_ALLOWED_HOSTS. Its host now replaces Host (`named_host`) for every check that
  follows; a scheme other than http and https, or a user name in it, is 400;
- a WebSocket handshake pipelined behind requests not answered yet (PIPELINED_HANDSHAKE,
  answered after them): uvicorn switched protocols at once, and their answers went out
  inside the WebSocket's stream;
- a WebSocket handshake over HTTP/1.0 (RFC 6455 4.1 asks for HTTP/1.1; it got 101);
- a version other than HTTP/1.0 and 1.1: llhttp reads `HTTP/2.0` and `HTTP/0.9` (and
  refuses the rest), and uvicorn answered them as 1.1, a WebSocket handshake included (an
  outside probe); HTTP/2 is another protocol on the wire, not this one. RFC 9110 15.6.6:
  505;
- a URL over 65,535 bytes, which httptools.parse_url cannot parse ("url is too long: url
  length of 65536 bytes exceeds the maximum of 65535 bytes"): uvicorn answered it with a
  bare text/plain 400. It reaches here in a head that came in one read (the size limit
  counts from the next read) or under a limit raised above 64 KB; 414;
- a URL with more than MAX_QUERY_PARAMETERS parameters (`&`-separated pieces): Starlette
  parses a query string whole whenever anything reads it, at about 0.8 us a piece, and
  a GET carrying 32,000 of them under the URL limit held the event loop 45-50 ms (an
  outside probe: 8 such connections from one address took honest clients' p50 from 2 to
  380-770 ms). A GraphQL GET takes four; 400;
- a WebSocket handshake whose request line or a header line is over websockets' line
  limit, or with more headers than it reads (handshake_refusal): handed over, websockets
  refused it with an answer uvicorn never wrote, and the connection stayed open, counted
  by no cap (1,500 from one address held 1,500 descriptors; a browser whose cookies make
  one 8 KB line got no answer at all); 431.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httptools
from websockets.http11 import MAX_LINE_LENGTH, MAX_NUM_HEADERS


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str
    extensions: dict[str, Any]
    retry_after: int | None = None  # seconds, sent as Retry-After


MAX_URL_BYTES = 65_535

URL_TOO_LONG = Refusal(
    414,
    f"The URL is over {MAX_URL_BYTES} bytes; send the query in a POST body.",
    {"code": "URI_TOO_LONG", "maxBytes": MAX_URL_BYTES},
)
# What a URL may carry: /graphql takes query, variables, operationName and extensions,
# and a cache-buster or a tracker's tag or two may ride along.
MAX_QUERY_PARAMETERS = 32
TOO_MANY_PARAMETERS = Refusal(
    400,
    f"The URL has more than {MAX_QUERY_PARAMETERS} query parameters; a GraphQL GET takes "
    "query, variables, operationName and extensions.",
    {"code": "BAD_REQUEST", "maxParameters": MAX_QUERY_PARAMETERS},
)
MALFORMED = Refusal(400, "The request is not well-formed HTTP/1.1.", {"code": "BAD_REQUEST"})
PIPELINED_HANDSHAKE = Refusal(
    400,
    "A WebSocket handshake must not follow requests still unanswered on its connection.",
    {"code": "BAD_REQUEST"},
)
NO_HOST = Refusal(400, "An HTTP/1.1 request needs a Host header.", {"code": "BAD_REQUEST"})
TRANSFER_CODING = Refusal(
    501, "Transfer-Encoding other than chunked is not supported.", {"code": "NOT_IMPLEMENTED"}
)
CONTENT_CODING = Refusal(
    415,
    "Content-Encoding other than identity is not supported; send the body uncompressed.",
    {"code": "UNSUPPORTED_MEDIA_TYPE"},
)
ODD_TARGET = Refusal(
    400,
    "A request line that names a host must name it with http or https and no user name.",
    {"code": "BAD_REQUEST"},
)
WEBSOCKET_OVER_HTTP_1_0 = Refusal(
    400, "A WebSocket handshake must be HTTP/1.1.", {"code": "BAD_REQUEST"}
)
VERSION_NOT_SUPPORTED = Refusal(
    505, "Only HTTP/1.1 (and 1.0) is served here.", {"code": "HTTP_VERSION_NOT_SUPPORTED"}
)
VERSIONS = ("1.1", "1.0")

HANDSHAKE_TOO_LARGE = Refusal(
    431,
    f"A WebSocket handshake's request line and each header line (CRLF included) may take "
    f"at most {MAX_LINE_LENGTH} bytes, and it may have at most {MAX_NUM_HEADERS} headers.",
    {"code": "HEADERS_TOO_LARGE", "maxLineBytes": MAX_LINE_LENGTH, "maxHeaders": MAX_NUM_HEADERS},
)

# Each header that may appear once, by its lowercased name, and the refusal of a second.
_ONCE = {
    name.lower().encode(): Refusal(
        400, f"The request has more than one {name} header.", {"code": "BAD_REQUEST"}
    )
    for name in ("Host", "Authorization", "Content-Type", "X-Consistent-With")
}
_LOOKED_AT = frozenset([*_ONCE, b"transfer-encoding", b"content-encoding", b"upgrade"])


def url_refusal(url: bytes) -> Refusal | None:
    """A URL too long, or with too many parameters (an `&` in the path counts too: no
    route has one)."""
    if len(url) > MAX_URL_BYTES:
        return URL_TOO_LONG
    if url.count(b"&") >= MAX_QUERY_PARAMETERS:
        return TOO_MANY_PARAMETERS
    return None


def named_host(url: bytes) -> bytes | Refusal | None:
    """The Host a request line in absolute-form names (`http://h:8000/graphql` names
    `h:8000`), or None for the usual origin-form (`/graphql`) and for `*`."""
    if url[:1] == b"/" or url == b"*":
        return None
    try:
        target = httptools.parse_url(url)
    except httptools.HttpParserInvalidURLError:
        return MALFORMED
    authority = url.partition(b"://")[2].split(b"/", 1)[0].split(b"?", 1)[0]
    if (target.schema or b"").lower() not in (b"http", b"https") or b"@" in authority:
        return ODD_TARGET  # an empty user name too (`http://@h/`), which httptools drops
    host = target.host or b""
    if b":" in host:  # an IPv6 address, which a Host value writes in brackets
        host = b"[" + host + b"]"
    return host if target.port is None else b"%s:%d" % (host, target.port)


def origin_form(url: bytes) -> bytes:
    """The path and query of an absolute-form target (`http://h/graphql?x` gives
    `/graphql?x`): what uvicorn hands a WebSocket handshake on, which took the whole URL
    for its path, matched no route, and was refused with a bare 403."""
    target = httptools.parse_url(url)
    path = target.path or b"/"
    return path if target.query is None else path + b"?" + target.query


def use_host(headers: list[tuple[bytes, bytes]], host: bytes) -> None:
    """Makes `host` the request's one Host header (head_refusal allowed at most one)."""
    headers[:] = [(name, value) for name, value in headers if name != b"host"]
    headers.append((b"host", host))


def head_refusal(
    headers: list[tuple[bytes, bytes]], http_version: Callable[[], str]
) -> Refusal | None:
    """`headers` as uvicorn keeps them: names lowercased, values as sent. Every request
    pays for this pass: 0.6 us for a dozen headers, measured; passing over the names it
    does not look at with one set lookup first saved 0.4 us of that. `http_version` is
    asked once (httptools builds the string each time, 0.2 us)."""
    version = http_version()
    if version not in VERSIONS:
        return VERSION_NOT_SUPPORTED
    seen: list[bytes] = []  # the names in _ONCE met so far: a list, as there are four
    websocket = False
    for name, value in headers:
        if name not in _LOOKED_AT:
            continue
        if name in _ONCE:
            if name in seen:
                return _ONCE[name]
            seen.append(name)
        elif name == b"transfer-encoding":
            if value.strip().lower() != b"chunked":
                return TRANSFER_CODING
        elif name == b"content-encoding":
            if value.strip().lower() != b"identity":
                return CONTENT_CODING
        else:  # upgrade
            websocket = value.strip().lower() == b"websocket"
    if b"host" in seen and not websocket:
        return None
    if version == "1.0":
        return WEBSOCKET_OVER_HTTP_1_0 if websocket else None
    return None if b"host" in seen else NO_HOST


def handshake_refusal(url: bytes, headers: list[tuple[bytes, bytes]]) -> Refusal | None:
    """For a request the WebSocket protocol is about to take over: what websockets would
    refuse for its size. uvicorn hands it the request rebuilt from the parsed head, one
    `name: value` line a header, so these are the lengths websockets reads."""
    request_line = len(b"GET  HTTP/1.1\r\n") + len(url)
    longest = max((len(name) + len(value) + 4 for name, value in headers), default=0)
    if len(headers) > MAX_NUM_HEADERS or max(request_line, longest) > MAX_LINE_LENGTH:
        return HANDSHAKE_TOO_LARGE
    return None


def without_upgrade(
    method: bytes, url: bytes, http_version: str, headers: list[tuple[bytes, bytes]]
) -> bytes:
    """The head again, without its upgrade offer (every Upgrade header, and `upgrade` in
    every Connection header): to be parsed once more, so that its body is read as a body.
    RFC 9110 7.8 lets a server ignore an Upgrade. httptools does not: it skips the body of
    any request that offers one, and the bytes that followed the head were dropped (a
    POST's body lost, the next pipelined request never answered)."""
    lines = [b"%s %s HTTP/%s\r\n" % (method, url, http_version.encode())]
    for name, value in headers:
        if name == b"upgrade":
            continue
        if name == b"connection":
            kept = [token for token in value.split(b",") if token.strip().lower() != b"upgrade"]
            if not any(token.strip() for token in kept):
                continue
            value = b",".join(kept).strip()
        lines.append(b"%s: %s\r\n" % (name, value))
    return b"".join(lines) + b"\r\n"
