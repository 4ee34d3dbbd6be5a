"""Apollo's automatic persisted queries as a client sends them: a document's hash in the
request's `extensions`."""

from __future__ import annotations

import hashlib
from typing import Any


def sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def persisted(digest: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}
