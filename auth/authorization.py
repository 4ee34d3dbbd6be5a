"""What an `Authorization` value proves, read the same way over HTTP and WebSocket.

- absent, blank, or another scheme than Bearer: nobody, an anonymous reader. Another
  scheme's credentials are not meant for Inkwell: a proxy's Basic authentication in front
  of it, say, which browsers then send with every request to its origin;
- `Bearer <token>`, the token verifying: its user, until the token expires;
- `Bearer <token>`, the token not verifying (expired, malformed, signed by a key this
  server no longer holds, such as one from an old data directory): refused, RFC 6750 3.1's
  `invalid_token`. It was answered as anonymous over HTTP, so an app could not tell that
  its token had gone bad: its reads came back signed out, without an error;
- `Bearer` and no token, or a token after a tab: refused as malformed, RFC 6750 3.1's
  `invalid_request`.
"""

from __future__ import annotations

from typing import NamedTuple

from auth.tokens import BearerTokens, Claims


class Refused(NamedTuple):
    """How the request is refused: over HTTP, `status` with `challenge` as its
    WWW-Authenticate header and a GraphQL error of `code`; over WebSocket, 4403."""

    status: int
    code: str
    message: str
    challenge: str


INVALID_TOKEN = Refused(
    401,
    "UNAUTHENTICATED",
    "The bearer token is not valid: it expired, is malformed, or was signed by a key this "
    "server no longer holds. Send requests without it, or with a new token (registerUser).",
    'Bearer error="invalid_token", error_description="The bearer token expired or does not verify"',
)
NO_TOKEN = Refused(
    400,
    "BAD_REQUEST",
    "The Authorization header names the Bearer scheme without a token: send "
    "`Authorization: Bearer <token>`, or no Authorization header to read anonymously.",
    'Bearer error="invalid_request", error_description="Bearer without a token"',
)


MALFORMED = Refused(
    400,
    "BAD_REQUEST",
    "The Authorization header separates the Bearer scheme from its token by other space "
    "than one space: send `Authorization: Bearer <token>`.",
    'Bearer error="invalid_request", error_description="Bearer and its token are '
    'separated by one space"',
)


def credentials(tokens: BearerTokens, authorization: str | None) -> Claims | Refused | None:
    """The user and expiry a valid bearer token proves; a Refused for bearer credentials
    that prove nothing; None for a reader without bearer credentials."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return MALFORMED if _bearer_by_other_space(scheme) else None
    token = token.strip()
    if not token:
        return NO_TOKEN
    return tokens.claims(token) or INVALID_TOKEN


def _bearer_by_other_space(scheme: str) -> bool:
    """`Bearer<TAB>token`, say: RFC 7235 separates a scheme from its credentials by spaces
    only, and read as another scheme it signed its sender out in silence, where a proxy
    splitting at any blank would have taken it for bearer credentials."""
    return scheme[:6].lower() == "bearer" and scheme[6:7].isspace()
