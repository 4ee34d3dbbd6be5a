"""A WebSocket handshake that websockets refuses is answered as every other refusal is:
GraphQL JSON with `extensions.code` (protection/responses.py).

websockets (17.4) answers a handshake it cannot accept in text/plain, quoting the client's
value and Python's own error: `Sec-WebSocket-Key: short` got "Failed to open a WebSocket
connection: invalid Sec-WebSocket-Key header: short; Invalid base64-encoded string:
number of data characters (5) cannot be 1 more than a multiple of 4." (an outside probe).
The answer here names the header and what it must be, and nothing the client sent.
"""

from __future__ import annotations

import email.utils
import http

from websockets.datastructures import Headers
from websockets.exceptions import InvalidHeader, InvalidUpgrade
from websockets.http11 import Response
from websockets.protocol import State
from websockets.server import ServerProtocol

from protection.responses import refusal_body

# What the headers websockets checks must be, for the message naming one.
_MUST_BE = {
    "Sec-WebSocket-Key": "one header, 16 random bytes in base64",
    "Sec-WebSocket-Version": "one header, 13",
}

# For refusals without a header to name: a message and a code by status.
_BY_STATUS = {
    http.HTTPStatus.BAD_REQUEST: ("The WebSocket handshake is not valid.", "BAD_REQUEST"),
    http.HTTPStatus.FORBIDDEN: ("The WebSocket handshake was refused.", "FORBIDDEN"),
    http.HTTPStatus.METHOD_NOT_ALLOWED: (
        "A WebSocket handshake is a GET request.",
        "METHOD_NOT_ALLOWED",
    ),
    http.HTTPStatus.UPGRADE_REQUIRED: (
        "A WebSocket handshake needs `Upgrade: websocket` and `Connection: Upgrade`.",
        "BAD_REQUEST",
    ),
    http.HTTPStatus.HTTP_VERSION_NOT_SUPPORTED: (
        "A WebSocket handshake must be HTTP/1.1.",
        "BAD_REQUEST",
    ),
}
_FAILED = ("The WebSocket handshake failed.", "INTERNAL_SERVER_ERROR")


class GraphQLRefusals(ServerProtocol):
    """websockets' server side of the handshake, with its refusals in GraphQL JSON.
    uvicorn builds the ServerProtocol itself (extensions and sizes from its config), so a
    connection's is made this class in place (wiring/websocket_protocol.py)."""

    def unparsable(self) -> bytes | None:
        """The answer to a handshake websockets could not parse, once it has failed to.

        websockets answers one it cannot parse at all (a body, by Content-Length other
        than 0 or by Transfer-Encoding; a path that is not ASCII...) with nothing: it
        stops reading and queues an end of stream that uvicorn never takes, since no
        event came. The connection stayed open for good, with no deadline, and counted
        by no cap: an outside probe held 6,000 from one address, 6,000 descriptors."""
        if self.handshake_exc is None or self.state is not State.CONNECTING:
            return None
        # A refusal websockets wrote itself (414, 431), or only its end of stream.
        queued = b"".join(self.data_to_send())
        return queued or self.reject(http.HTTPStatus.BAD_REQUEST, "").serialize()

    def reject(self, status: http.HTTPStatus | int, text: str) -> Response:
        status = http.HTTPStatus(status)
        message, code = refusal(status, self.handshake_exc)
        body = refusal_body(message, {"code": code})
        headers = Headers(
            [
                ("Date", email.utils.formatdate(usegmt=True)),
                ("Connection", "close"),
                ("Content-Length", str(len(body))),
                ("Content-Type", "application/json"),
            ]
        )
        return Response(status.value, status.phrase, headers, body)


def refusal(status: http.HTTPStatus, error: Exception | None) -> tuple[str, str]:
    """The message and code of a refused handshake; `error` is websockets' reason, whose
    text quotes the client."""
    if isinstance(error, InvalidHeader) and not isinstance(error, InvalidUpgrade):
        must_be = _MUST_BE.get(error.name)
        return (
            f"The WebSocket handshake's {error.name} header is missing, repeated or not valid"
            + (f": it must be {must_be}." if must_be else "."),
            "BAD_REQUEST",
        )
    return _BY_STATUS.get(status, _FAILED)
