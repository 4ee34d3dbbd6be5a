"""What an `Authorization` value proves, read the same way over HTTP and WebSocket.

- absent, blank, or another scheme than Bearer: nobody, an anonymous reader. Another
  scheme's credentials are not meant for Inkwell: a proxy's Basic authentication in front
  of it, say, which browsers then send with every request to its origin;
- `Bearer <token>`, the token verifying: its user, until the token expires;
- `Bearer <token>`, the token not verifying (expired, malformed, signed by a key this
  server no longer holds, such as one from an old data directory): refused, RFC 6750 3.1's
  `invalid_token`. It was answered as anonymous over HTTP, so an app could not tell that
  its token had gone bad: its reads came back signed out, without an error;
- `Bearer` and no token, or a token after other space than spaces (a tab, a no-break
  space): refused as malformed, RFC 6750 3.1's `invalid_request`.
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
    "The Authorization header names the Bearer scheme but does not part it from its token "
    "by a space: send `Authorization: Bearer <token>`.",
    'Bearer error="invalid_request", error_description="Bearer and its token are '
    'parted by a space"',
)


def credentials(tokens: BearerTokens, authorization: str | None) -> Claims | Refused | None:
    """The user and expiry a valid bearer token proves; a Refused for bearer credentials
    that prove nothing; None for a reader without bearer credentials."""
    token = presented_token(authorization)
    if token is None or isinstance(token, Refused):
        return token
    return tokens.claims(token) or INVALID_TOKEN


def presented_token(authorization: str | None) -> str | Refused | None:
    """The token of bearer credentials, unverified; a Refused for malformed ones; None for
    no credentials or another scheme's. The rate limits read tokens through this too:
    with `strip()` here and a plain split there, `\xa0Bearer <token>` was verified and
    never counted, a guessing oracle past the bad-token limit (an outside probe).

    Only spaces and tabs surround a header's value (RFC 9110's OWS), and one or more
    spaces part the scheme from the token (RFC 7235). Anything else that names Bearer
    (`Bearer<TAB>`, `Bearer` and a no-break or zero-width space, a byte order mark
    before it) is malformed: read as another scheme, it signed its sender out in
    silence, where a proxy splitting at any blank would take it for bearer credentials."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip(" \t").partition(" ")
    lowered = scheme.lower()
    if lowered != "bearer":
        return MALFORMED if "bearer" in lowered else None
    return token.strip(" \t") or NO_TOKEN
