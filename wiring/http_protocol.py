"""The HTTP protocol `serve` and `api` run: uvicorn's httptools protocol with the reading of
a request bounded in bytes and in time.

uvicorn's httptools protocol reads a request's line and headers with no limit on their
size and no deadline. Measured against `serve` before this protocol: ten connections
that each sent 20 MB of one unfinished header took the process from 89 MB to 291 MB,
and 2,000 connections that sent half a request (or nothing) were all still held after
30 s. Here:

- The request line and headers may take at most `max_header_bytes`; past that the
  answer is 431 and the connection closes. Bytes are counted from the read after the
  one in which the request began, so memory stays under the limit plus one read
  (uvloop reads at most 256 KB), and no header block within the limit is ever refused
  for its size. The URL alone may take at most 65,535 bytes (414, wiring/request_head.py
  says why), which only a limit raised above its 64 KB default lets a head reach.
- They must arrive within `header_seconds` of the request's first byte, or of the
  connection's opening for its first request: 408, or a silent close when nothing was
  sent. Between requests uvicorn's keep-alive timeout closes an idle connection.
- The body must arrive within `body_seconds` of the headers: 408 and close, and the
  app's `receive` sees the disconnect.

The deadlines are whole-phase deadlines, not idle timeouts, so a client that trickles a
byte a second cannot keep one alive. A WebSocket handshake is an HTTP request and is
bounded the same way until it is upgraded.

Pipelined requests (sent before the answers to earlier ones) are bounded too. uvicorn
queues each one read while another is served, and read on after every answer, queueing
a read's worth more (a 256 KB read holds thousands of small GETs): twenty connections
that pipelined requests without reading an answer took the process from 101 MB to
1,637 MB in 8 s, and /health took 5.4 s. Here the connection reads no more while
requests it has read wait, and one that has more than MAX_PIPELINED waiting is closed
(no answer can be written out of order). Browsers do not pipeline at all.

A chunked body may come in at most MAX_CHUNKS chunks: each chunk is a parser callback
and a copy, and a 900 KB body sent a byte a chunk took 0.18 s of the event loop (the same
body in one piece, under a millisecond), twenty times a second within an address's
request rate.

The trailer section after a chunked body's last chunk is held to `max_header_bytes`
too, counted the same way (431), and its fields are dropped. uvicorn read it with no
limit until the body deadline: one request with 100 MB of trailer was read for 24 s and
answered 200, and four connections streaming one took the process to 4.6 s of CPU in
6 s and another client's `{ __typename }` from 0.7 ms to 3 s (httptools joins a field's
pieces read by read, so the work grows with the square of its size). And uvicorn
appended the trailer fields to the request's headers, after the checks below had passed
them: an `Authorization` trailer signed an updateProfile in.

Once the headers are all in, and before the app sees them, a head that is ambiguous or
unsupported (two Authorization headers, no Host, a gzip transfer or content coding...)
is refused: wiring/request_head.py. Every refusal, uvicorn's own 400 for what httptools
cannot parse included, is a GraphQL response whose error carries `extensions.code`, and
closes the connection.

What a connection's answers leave unsent counts in its client address's budget, with its
WebSockets' (wiring/http_unsent.py). What the kernel holds of them once written is not
this process's to count, and outlives it: a client that never read kept its answers in
the kernel's send buffers after the keep-alive timeout closed the connection, 556 MB
for 200 connections from 20 addresses, until it went away (an outside probe). Every
connection's socket gives up data that stays unacknowledged, or unsent to a zero
window, for SEND_STALL_SECONDS (TCP_USER_TIMEOUT, which holds after close too): a
client that reads, however slowly, acknowledges as it goes.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Callable
from enum import Enum
from functools import partial
from typing import Any, cast

import httptools
from uvicorn._types import ASGI3Application
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)
from uvicorn.server import ServerState

from observability.requests import ANSWERED_BY_PROTOCOL, log_refused, request_id_in
from protection.client_gone import client_left
from protection.config import EdgeLimits
from protection.connection_cap import ConnectionsPerAddress
from protection.responses import refusal_body
from protection.unsent_budget import UnsentAccount, UnsentBudget
from wiring.http_unsent import UnsentOnConnection, within_budget
from wiring.request_head import (
    MALFORMED,
    PIPELINED_HANDSHAKE,
    Refusal,
    handshake_refusal,
    head_refusal,
    named_host,
    origin_form,
    url_refusal,
    use_host,
    without_upgrade,
)

# How long a connection's sent data may wait for its client to acknowledge (or open its
# window) before the kernel drops the connection. A WebSocket whose client stops reading
# is closed for its unanswered pings within 40 s anyway.
SEND_STALL_SECONDS = 30
# Requests read and waiting behind the one being answered, on one connection.
MAX_PIPELINED = 64
# Chunks of one chunked body: a 1 MB body (the default limit) in pieces of 256 bytes.
MAX_CHUNKS = 4096
# Header fields of one request, Apache's default (LimitRequestFields): a browser sends
# about 20. Each is a parser callback and a pass of every check over the list.
MAX_HEADER_FIELDS = 100


def _give_up_unread_sends(transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, SEND_STALL_SECONDS * 1000)


def _too_many_fields(section: str, fields: str) -> Refusal:
    return Refusal(
        431,
        f"{section} may have at most {MAX_HEADER_FIELDS} {fields}.",
        {"code": "HEADERS_TOO_LARGE", "maxFields": MAX_HEADER_FIELDS},
    )


def bounded_http_protocol(
    edge: EdgeLimits,
    per_address: ConnectionsPerAddress | None = None,
    unsent_budget: UnsentBudget | None = None,
) -> type[asyncio.Protocol]:
    """What `uvicorn.run(http=...)` takes: uvicorn calls it with its config and state for
    each connection. A partial of a module-level class, so that `api --workers` can pickle
    it into each worker (each then counts its own connections and unsent bytes per
    address)."""
    factory = partial(
        BoundedHttpToolsProtocol,
        max_header_bytes=edge.max_header_bytes,
        header_seconds=edge.header_timeout_seconds,
        body_seconds=edge.body_timeout_seconds,
        per_address=per_address,
        unsent_budget=unsent_budget,
    )
    return cast("type[asyncio.Protocol]", factory)  # uvicorn only ever calls it


# What may go over `max_header_bytes`, and its refusal: status, message (`{limit}` is the
# limit), code.
OverLimit = tuple[int, str, str]
HEAD_OVER = (431, "The request line and headers are over {limit} bytes.", "HEADERS_TOO_LARGE")
TRAILER_OVER = (
    431,
    "The trailer section after the chunked body is over {limit} bytes.",
    "HEADERS_TOO_LARGE",
)
CHUNK_LINE_OVER = (
    413,
    "A chunk's size line, with its extensions, may hold at most {limit} bytes.",
    "PAYLOAD_TOO_LARGE",
)


class _Phase(Enum):
    AWAITING = "awaiting"  # no request begun since the last one ended (or upgraded)
    HEAD = "head"  # a request's line and headers are arriving
    BODY = "body"  # its body is
    # A chunk's size line is read and none of its data: for the last chunk (size 0), its
    # trailer section is arriving. httptools does not say a chunk's size, but any other
    # chunk's data follows at once, and ends this phase in the read it arrives in.
    TRAILER = "trailer"


class _Refused(Exception):
    """Raised from a parser callback once the refusal is written, to stop httptools
    reading on. It reports it as HttpParserCallbackError, which uvicorn answers with
    `send_400_response`: `_refuse` then writes nothing more."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        max_header_bytes: int,
        header_seconds: float,
        body_seconds: float,
        per_address: ConnectionsPerAddress | None = None,
        unsent_budget: UnsentBudget | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._per_address = per_address
        self._counted: str | None = None  # the address per_address counts this under
        self._unsent_budget = unsent_budget
        self._unsent: UnsentOnConnection | None = None
        self._account: UnsentAccount | None = None  # in its address's unsent budget
        self._max_header_bytes = max_header_bytes
        self._header_seconds = header_seconds
        self._body_seconds = body_seconds
        self._deadline: asyncio.TimerHandle | None = None
        self._phase = _Phase.AWAITING
        self._begun_in_this_read = False  # the head or trailer section began in this read
        self._field_bytes = 0  # of the head or trailer section, from the read after that
        self._chunks = 0
        self._trailer_fields = 0  # of the trailer section being read
        self._body_moved = False  # this read gave body data or a chunk
        self._idle_body_bytes = 0  # read in the body since it last did
        self._running: RequestResponseCycle | None = None  # the request being answered
        self._owed: Refusal | None = None  # written once the requests before it are answered
        self._owed_id: str | None = None  # the X-Request-Id it is answered with
        self._read = b""  # the read being parsed
        self._upgrade_offered = False  # the head offers an upgrade other than WebSocket
        self._without_upgrade = b""  # that head again without it, and the rest of the read

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        _give_up_unread_sends(transport)
        if self._per_address is not None and self.client is not None:
            address = self.client[0]
            if not self._per_address.open(address):
                self._refuse(self._too_many_connections(), logged=False)
                return
            self._counted = address
        if self._unsent_budget is not None and self.client is not None:
            self._unsent = UnsentOnConnection(transport)
            self._account = self._unsent_budget.account(self.client[0], self._unsent)
        self._arm(self._header_seconds, self._headers_late)  # for the first request

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._uncount()
        self._close_account()
        # uvicorn marks only the newest request read (`self.cycle`) as disconnected. With
        # requests pipelined, that is one still waiting, and the one being answered wrote
        # to the closed transport: a RuntimeError traceback per request, 10 for 10
        # connections that pipelined three large queries and closed without reading.
        running = self._running
        if running is not None and not running.response_complete:
            running.disconnected = True
            running.message_event.set()
            # The app reads no more of a request it has whole, and never hears of this.
            # A half-close (the client's FIN once its request is sent) is taken as this
            # too, as nginx takes it: the two cannot be told apart until an answer is
            # written, and a client gone is the common case.
            if not running.response_started:
                client_left(running.scope)
        super().connection_lost(exc)

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        self._running = cycle
        if self._account is not None and self._unsent is not None:
            app = within_budget(app, cycle, self._account, self._unsent)
        super()._start_asgi_task(cycle, app)

    def handle_websocket_upgrade(self) -> None:
        """From here INKWELL_MAX_WS_PER_ADDRESS counts the connection; the WebSocket
        protocol takes the transport over (and its unsent bytes, in an account of its
        own), and this one never hears of its end."""
        self._uncount()
        self._close_account()
        super().handle_websocket_upgrade()

    def _uncount(self) -> None:
        if self._per_address is not None and self._counted is not None:
            self._per_address.close(self._counted)
            self._counted = None

    def _close_account(self) -> None:
        if self._account is not None:
            self._account.close()
            self._account = None

    def data_received(self, data: bytes) -> None:
        """A head that offered an upgrade is parsed again without it, with the rest of its
        read, as the read that follows (`_unsupported_upgrade_warning`): in a loop, as
        many times as a read holds such requests (MAX_PIPELINED bounds them)."""
        self._received(data)
        while self._without_upgrade:
            again, self._without_upgrade = self._without_upgrade, b""
            self._received(again)

    def _received(self, data: bytes) -> None:
        """Deadlines are armed once a read ends with the request unfinished, so a request
        that arrives in one read (nearly all of them) never arms one."""
        self._begun_in_this_read = False
        self._body_moved = False
        in_body = self._phase is _Phase.BODY  # the whole read, not the head's end
        self._read = data
        super().data_received(data)
        self._read = b""
        if self._without_upgrade or self._phase is _Phase.AWAITING or self._owed is not None:
            return
        if in_body and self._phase is _Phase.BODY:
            # A read in a body that gave no data and no chunk was a chunk's size line, its
            # extensions (`1c;aaaa...`) skipped by the parser without limit: four
            # connections sent 1 GB each and were answered 200, the loop busy meanwhile.
            self._idle_body_bytes = 0 if self._body_moved else self._idle_body_bytes + len(data)
            if self._idle_body_bytes > self._max_header_bytes:
                self._refuse_body(self._over_header_limit(CHUNK_LINE_OVER))
                return
        if self._phase is not _Phase.BODY and not self._begun_in_this_read:
            self._field_bytes += len(data)
            if self._field_bytes > self._max_header_bytes:
                if self._phase is _Phase.HEAD:
                    self._refuse(self._over_header_limit(HEAD_OVER))
                else:
                    self._refuse_body(self._over_header_limit(TRAILER_OVER))
                return
        if self._deadline is None:
            if self._phase is _Phase.HEAD:
                self._arm(self._header_seconds, self._headers_late)
            else:
                self._arm(self._body_seconds, self._body_late)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._disarm()
        self._phase = _Phase.HEAD
        self._begun_in_this_read = True
        self._field_bytes = 0
        self._chunks = 0
        self._idle_body_bytes = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        """httptools reports the trailer fields after a chunked body with this callback
        too, and uvicorn appended them to the list that is `scope["headers"]`, which the
        app reads after they may have arrived (Starlette builds `request.headers` when
        first asked). Nothing here reads trailers, and RFC 9110 6.5.1 lets a recipient
        discard them: they are dropped.

        Header bytes alone did not bound the work: a head of 30,000 `a: b` lines (180 KB
        in one read, which the byte count does not see) cost 15-18 ms of the event loop,
        before any rate limit, and eight connections sending them to /health held
        another client at p50 0.6 s (an outside probe)."""
        if self._phase is _Phase.HEAD:
            if len(self.headers) >= MAX_HEADER_FIELDS:
                self._refuse(_too_many_fields("A request", "header fields"))
                raise _Refused
            super().on_header(name, value)
            return
        # A trailer field: dropped, and counted as a head's are (the same flood as
        # trailers held another client at p50 24 ms: a re-check probe).
        self._trailer_fields += 1
        if self._trailer_fields > MAX_HEADER_FIELDS:
            self._refuse_body(_too_many_fields("The trailer section", "fields"))
            raise _Refused

    def on_headers_complete(self) -> None:
        self._disarm()
        if self.parser.should_upgrade() and self._offers_other_upgrade():
            self._upgrade_offered = True  # no checks and no answer yet: parsed again
            return
        refusal = url_refusal(self.url) or head_refusal(self.headers, self.parser.get_http_version)
        if refusal is None:
            named = named_host(self.url)
            if isinstance(named, Refusal):
                refusal = named
            elif named is not None:
                use_host(self.headers, named)
                self.url = origin_form(self.url)
        if refusal is None and self.parser.should_upgrade() and self._should_upgrade():
            # uvicorn switches protocols at once: the answers of requests read before it
            # went out inside the WebSocket's stream (a re-check probe).
            refusal = PIPELINED_HANDSHAKE if self._answering() else None
            refusal = refusal or handshake_refusal(self.url, self.headers)
        if refusal is not None:
            self._refuse(refusal)
            raise _Refused
        super().on_headers_complete()
        if len(self.pipeline) > MAX_PIPELINED:
            self.transport.close()
            raise _Refused
        upgrading = self.parser.should_upgrade() and self._should_upgrade()
        self._phase = _Phase.AWAITING if upgrading else _Phase.BODY

    def on_message_complete(self) -> None:
        self._disarm()
        self._phase = _Phase.AWAITING
        if not self._upgrade_offered:
            super().on_message_complete()

    def _offers_other_upgrade(self) -> bool:
        """An Upgrade header that uvicorn does not take for a WebSocket handshake, by its
        own rule (`_should_upgrade`: `websocket` exactly, in the last Connection header):
        judged by another, `Upgrade: websocket ` (a trailing space) lost its body still (a
        re-check probe). A CONNECT, which the parser also upgrades, has no Upgrade."""
        return not self._should_upgrade() and any(name == b"upgrade" for name, _ in self.headers)

    def _unsupported_upgrade_warning(self) -> None:
        """uvicorn's answer to a head that offers an upgrade other than WebSocket, which
        httptools reports (HttpParserUpgrade) with where in the read the head ended: that
        head, without the offer, is parsed again with the rest of the read (without_upgrade
        says why), by a new parser, as uvicorn makes one: the old one, resumed by
        httptools, takes what follows for the upgraded protocol's and reads none of it."""
        upgrade = sys.exception()
        if not self._upgrade_offered or not isinstance(upgrade, httptools.HttpParserUpgrade):
            super()._unsupported_upgrade_warning()
            return
        self._upgrade_offered = False
        head = without_upgrade(
            self.parser.get_method(), self.url, self.parser.get_http_version(), self.headers
        )
        self._without_upgrade = head + self._read[upgrade.args[0] :]
        self.parser = httptools.HttpRequestParser(self)
        self.parser.set_dangerous_leniencies(lenient_data_after_close=True)

    def on_chunk_header(self) -> None:
        """httptools calls it for each chunk of a chunked body (uvicorn defines none)."""
        self._body_moved = True
        self._phase = _Phase.TRAILER
        self._begun_in_this_read = True
        self._field_bytes = 0
        self._trailer_fields = 0
        self._chunks += 1
        if self._chunks > MAX_CHUNKS:
            self._refuse_body(
                Refusal(
                    413,
                    f"A chunked body may come in at most {MAX_CHUNKS} chunks.",
                    {"code": "PAYLOAD_TOO_LARGE", "maxChunks": MAX_CHUNKS},
                )
            )
            raise _Refused

    def on_body(self, body: bytes) -> None:
        if self._phase is _Phase.TRAILER:  # the chunk had data: it was not the last
            self._phase = _Phase.BODY
        self._body_moved = True
        super().on_body(body)

    def on_response_complete(self) -> None:
        """uvicorn resumes reading after every answer; requests already read and waiting
        are served first, and a refusal owed after them (`_refuse`) is written once they
        are."""
        super().on_response_complete()
        if self._owed is not None and not self._answering():
            refusal, self._owed = self._owed, None
            self._write_refusal(refusal, self._owed_id)
        elif self.pipeline or self._owed is not None:
            self.flow.pause_reading()

    def _too_many_connections(self) -> Refusal:
        assert self._per_address is not None
        limit = self._per_address.limit
        return Refusal(
            429,
            f"Too many open connections from your address (at most {limit}); reuse or close some.",
            {"code": "RATE_LIMITED", "retryAfter": 1, "maxConnections": limit},
            retry_after=1,
        )

    def _over_header_limit(self, over: OverLimit) -> Refusal:
        status, message, code = over
        limit = self._max_header_bytes
        return Refusal(status, message.format(limit=limit), {"code": code, "maxBytes": limit})

    def _headers_late(self) -> None:
        if self._phase is _Phase.AWAITING:  # opened and never used: nobody to answer
            self.transport.close()
            return
        self._refuse(
            Refusal(
                408,
                f"The request's headers took over {self._header_seconds:g} s.",
                {"code": "REQUEST_TIMEOUT"},
            )
        )

    def _body_late(self) -> None:
        self._refuse_body(
            Refusal(
                408,
                f"The request's body took over {self._body_seconds:g} s.",
                {"code": "REQUEST_TIMEOUT"},
            )
        )

    def _refuse_body(self, refusal: Refusal) -> None:
        """Refuses the request whose body is being read, at once, unless the app has
        already answered it (a 413, say): then a second answer would follow the first, so
        the connection only closes, which stops reading the rest. A request pipelined
        behind others still to be answered is taken out of the queue, its app never run,
        and refused once they are answered (_refuse): written at once, the refusal was
        the only answer, and a client read it as its first request's."""
        if self._owed is not None or self.transport.is_closing():  # refused already
            return
        if self.cycle is not None and self.cycle.response_started:
            self.transport.close()
            return
        queued = [entry for entry in self.pipeline if entry[0] is self.cycle]
        if queued:
            self.pipeline.remove(queued[0])
            self._refuse(refusal)
            return
        if self.cycle is not None and "state" in self.cycle.scope:  # for the request log
            self.cycle.scope["state"][ANSWERED_BY_PROTOCOL] = refusal.status
        self._write_refusal(refusal)

    def _arm(self, seconds: float, late: Callable[[], None]) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, late)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to what httptools cannot parse (a duplicate Content-Length,
        obs-fold, a bare LF, an unknown method...), which it wrote as text/plain."""
        if self._phase in (_Phase.BODY, _Phase.TRAILER):
            self._refuse_body(MALFORMED)  # its own request is the one being answered
        else:
            self._refuse(MALFORMED)

    def _refuse(self, refusal: Refusal, *, logged: bool = True) -> None:
        """Refuses a request before its body, once the requests read before it are
        answered: written at once, a GET pipelined ahead of a 101-field request lost its
        answer to the 431 (a re-check probe). Reading stops meanwhile. The app never
        sees it, so its request log line is written here, and the answer carries its id;
        `logged=False` for a connection refused as it opens, before any request."""
        if self.transport.is_closing() or self._owed is not None:
            return
        self._disarm()
        request_id = self._logged_refusal(refusal) if logged else None
        if self._answering():
            self._owed, self._owed_id = refusal, request_id
            self.flow.pause_reading()
            return
        self._write_refusal(refusal, request_id)

    def _logged_refusal(self, refusal: Refusal) -> str:
        """Logs the refused request (what of its head was read) and returns its id."""
        target: bytes = getattr(self, "url", b"")
        method = self.parser.get_method().decode("latin-1") if target else "-"  # read by then
        request_id = request_id_in(getattr(self, "headers", ()))
        log_refused(method, target, refusal.status, request_id)
        return request_id

    def _answering(self) -> bool:
        """Whether a request read before is being answered, or waits to be."""
        running = self._running is not None and not self._running.response_complete
        return running or bool(self.pipeline)

    def _write_refusal(self, refusal: Refusal, request_id: str | None = None) -> None:
        """Answers as the app's edge refusals do (protection/responses.py), written
        straight to the socket as uvicorn writes its own 400, and closes. Once: a write
        after `close()` still goes out when the first has not left the buffer yet
        (measured, asyncio's loop and uvloop alike)."""
        if self.transport.is_closing():
            return
        self._disarm()
        body = refusal_body(refusal.message, refusal.extensions)
        head = [STATUS_LINE[refusal.status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        if refusal.retry_after is not None:
            head.append(b"retry-after: %d\r\n" % refusal.retry_after)
        if request_id is not None:
            head.append(b"x-request-id: %s\r\n" % request_id.encode())
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
