"""Bearer tokens: a user id and an expiry, signed with the server's key (HMAC-SHA256).

Nothing is stored per token, so a token works on every API process that shares
the keys and keeps working across restarts; neither events nor read models ever
hold a token. A token is `<user id>.<expires, Unix seconds>.<signature>` and is
refused after it expires (30 days by default, INKWELL_TOKEN_DAYS).

Keys rotate: the newest key signs, and the older keys still verify, so tokens
issued before a rotation keep working until they expire; after one token lifetime
the old key can be dropped. The keys come from INKWELL_SECRET (several separated by
commas, newest first) or from a file in the data directory (one per line, newest
first). docs/security.md says how an operator rotates.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

_CONTEXT = b"inkwell bearer token v2:"
DEFAULT_LIFETIME = 30 * 24 * 3600.0
# Tokens whose signature check verify() keeps: the active users of one process, about.
SIGNED_TOKENS_KEPT = 4096
# A token this server signs is about 90 characters (a user id, an expiry, 43 of
# signature); one far longer is refused unread, so the kept checks stay small.
LONGEST_TOKEN = 256


class Claims(NamedTuple):
    user_id: str
    expires: int  # Unix seconds


class BearerTokens:
    def __init__(
        self,
        key: bytes,
        older_keys: Sequence[bytes] = (),
        *,
        lifetime: float = DEFAULT_LIFETIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`key` signs; it and `older_keys` verify. `lifetime` is in seconds."""
        self._key = key
        self._keys = (key, *older_keys)
        self._lifetime = lifetime
        self._clock = clock
        self._signed = functools.lru_cache(maxsize=SIGNED_TOKENS_KEPT)(self._signed_claims)

    def issue(self, user_id: str) -> str:
        claims = f"{user_id}.{int(self._clock() + self._lifetime)}"
        return f"{claims}.{_sign(self._key, claims)}"

    def verify(self, token: str) -> str | None:
        """The user id the token proves, or None for anything this server did not sign
        with a key it still holds, anything expired, and anything that is not ASCII."""
        claims = self.claims(token)
        return None if claims is None else claims.user_id

    def claims(self, token: str) -> Claims | None:
        """What verify() accepts, with the moment it stops accepting it."""
        if len(token) > LONGEST_TOKEN:
            return None
        signed = self._signed(token)
        if signed is None or signed.expires <= self._clock():
            return None
        return signed

    def _signed_claims(self, token: str) -> Claims | None:
        """The user id and expiry the token carries under a valid signature, else None.
        A pure function of the token and the keys, so verify() keeps the answers for the
        tokens seen last (the HMAC was 2% of the API process's work under createPost
        load); the expiry is checked on every use."""
        if not token.isascii():
            return None
        claims, _, signature = token.rpartition(".")
        user_id, _, expires = claims.rpartition(".")
        if not user_id or not expires.isdigit():
            return None
        valid = [hmac.compare_digest(signature, _sign(key, claims)) for key in self._keys]
        return Claims(user_id, int(expires)) if any(valid) else None


def _sign(key: bytes, claims: str) -> str:
    digest = hmac.new(key, _CONTEXT + claims.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# RFC 7518 asks HMAC-SHA256 keys for at least 256 bits. A token is a known message with
# its signature: a short key can be found offline from one token, then every user's
# token forged. A key made as docs/security.md says is 64 characters.
SHORTEST_SECRET = 32
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")


def parse_keys(text: str) -> tuple[str, ...]:
    """Keys separated by commas or lines, newest first; blank entries are skipped."""
    keys = (part.strip() for part in text.replace("\n", ",").split(","))
    return tuple(key for key in keys if key)


def keys_from_secret(secret: str) -> tuple[bytes, ...]:
    """INKWELL_SECRET's keys, each the bytes of its text; ValueError names what is wrong."""
    keys = parse_keys(secret)
    if not keys:
        raise ValueError("INKWELL_SECRET holds no key: unset it, or give one")
    if any(len(key) < SHORTEST_SECRET for key in keys):
        raise ValueError(
            f"INKWELL_SECRET: each key must be at least {SHORTEST_SECRET} characters (a short "
            "key can be found from one token); make one with "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`"
        )
    return tuple(key.encode() for key in keys)


def load_or_create_keys(path: Path) -> tuple[bytes, ...]:
    """Reads the signing keys (hex, one per line, newest first), making a random one
    (readable by the owner only) on first start. ValueError names a file that holds no
    key or a line that is not hex; OSError, a file that cannot be read or made.

    The key is written to a private temporary file and linked into place, so a process
    starting at the same moment reads either no file or the whole key, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        descriptor, draft = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
        try:
            with os.fdopen(descriptor, "w") as file:
                file.write(new_key() + "\n")
            os.link(draft, path)  # fails if another process linked its key first
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    keys = parse_keys(path.read_text())
    if not keys:
        raise ValueError(f"{path} holds no key: delete it to have one made, or write one")
    try:
        return tuple(bytes.fromhex(key) for key in keys)
    except ValueError:
        raise ValueError(f"{path}: each line must be a key in hex") from None


def as_the_other_source_reads_them(keys: tuple[bytes, ...], from_file: bool) -> tuple[bytes, ...]:
    """The same keys as the other source would make them, to verify with as well.

    The key file holds keys in hex and signs with the bytes they encode; INKWELL_SECRET
    signs with the bytes of its text. So a key moved from one to the other (a single
    server's file key shared through INKWELL_SECRET when it scales out, as the README
    says to) signed differently, and every token it had signed stopped working. Anyone
    who can make either form knows the key, so verifying with both gives nothing away."""
    if from_file:
        return tuple(key.hex().encode() for key in keys)
    texts = (key.decode() for key in keys)  # a key that is not hex came from no file
    return tuple(bytes.fromhex(text) for text in texts if _HEX.fullmatch(text))


def new_key() -> str:
    return secrets.token_hex(32)
