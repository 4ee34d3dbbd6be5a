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
import tempfile
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
    """Reads the signing key, making a random one (readable by the owner only) on first start.

    The key is written to a private temporary file and linked into place, so a process
    starting at the same moment reads either no file or the whole key, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        descriptor, draft = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
        try:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_hex(32))
            os.link(draft, path)  # fails if another process linked its key first
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    return bytes.fromhex(path.read_text().strip())
