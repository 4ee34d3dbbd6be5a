"""Bearer tokens: a user id signed with the server's key (HMAC-SHA256).

Nothing is stored per token, so a token works on every API process that shares
the key and keeps working across restarts; neither events nor read models ever
hold a token. The key comes from INKWELL_SECRET or a file in the data directory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

_CONTEXT = b"inkwell bearer token v1:"


class BearerTokens:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def issue(self, user_id: str) -> str:
        return f"{user_id}.{self._sign(user_id)}"

    def verify(self, token: str) -> str | None:
        """The user id the token proves, or None for anything this server did not sign."""
        user_id, _, signature = token.rpartition(".")
        if user_id and hmac.compare_digest(signature, self._sign(user_id)):
            return user_id
        return None

    def _sign(self, user_id: str) -> str:
        digest = hmac.new(self._key, _CONTEXT + user_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def load_or_create_key(path: Path) -> bytes:
    """Reads the signing key, making a random one (readable by the owner only) on first start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # made on an earlier start, or just now by another process
    else:
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())
