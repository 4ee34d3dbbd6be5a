"""Persisted queries: a request may name its document by SHA-256 hash instead of sending it.

Apollo's automatic persisted queries (APQ): a client sends
`extensions.persistedQuery = {version: 1, sha256Hash}` alone; an unknown hash is
answered PERSISTED_QUERY_NOT_FOUND, and the client retries with the document, which
the server checks against the hash and, when the request runs it, stores in Redis,
bounded in size, count and age (projections/readers/persisted_queries.py). The
trusted-documents mode (schema/trusted.py) answers the same protocol from a fixed list
instead.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from projections.readers.persisted_queries import PersistedQueryStore

VERSION = 1
HASH = re.compile(r"[0-9a-f]{64}")

# Whether the request that sent a document would run it: the document parses, validates
# (the shape limits are validation rules) and its operation is within its cost limit
# with the request's variables (InkwellSchema.runnable).
Runnable = Callable[[str], bool]


SHA256_FIELD = "extensions.persistedQuery.sha256Hash"


class PersistedQueryRefused(Exception):
    """A request the persisted-query rules refuse before any parsing: it gets this code."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field  # what a BAD_USER_INPUT refuses

    @property
    def extensions(self) -> dict[str, str]:
        return (
            {"code": self.code} if self.field is None else {"code": self.code, "field": self.field}
        )


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


class Documents(Protocol):
    """Where a request's document comes from when it names one by hash."""

    async def resolve(
        self, query: str | None, extensions: dict[str, Any] | None, runnable: Runnable
    ) -> str | None:
        """The document to run: the query sent, or the one the hash names. Raises
        PersistedQueryRefused for what may not run. A document sent with its hash may be
        kept for later requests only if `runnable` says this one runs it."""


def requested_hash(extensions: dict[str, Any] | None) -> str | None:
    """The hash of `extensions.persistedQuery`, checked; None when there is none."""
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    # The integer 1: Python takes true and 1.0 as equal to it.
    version = persisted.get("version") if isinstance(persisted, dict) else None
    if type(version) is not int or version != VERSION:
        raise PersistedQueryRefused(
            "PERSISTED_QUERY_NOT_SUPPORTED", f"only persistedQuery version {VERSION} is supported"
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not HASH.fullmatch(digest):
        raise PersistedQueryRefused(
            "BAD_USER_INPUT",
            "persistedQuery.sha256Hash must be 64 lowercase hex digits",
            SHA256_FIELD,
        )
    return digest


def check_hash(query: str, digest: str) -> None:
    if sha256(query) != digest:
        raise PersistedQueryRefused(
            "BAD_USER_INPUT", "provided sha does not match query", SHA256_FIELD
        )


class AutomaticPersistedQueries:
    """Apollo's APQ over the Redis store, with a small in-process memo of hashes already
    seen: a hash names one document forever, so the memo can never be stale."""

    def __init__(self, store: PersistedQueryStore, memo_size: int = 256) -> None:
        self._store = store
        self._memo: OrderedDict[str, str] = OrderedDict()
        self._memo_size = memo_size

    async def resolve(
        self, query: str | None, extensions: dict[str, Any] | None, runnable: Runnable
    ) -> str | None:
        digest = requested_hash(extensions)
        query = query or None  # WebSocket clients send "" for a document named by hash
        if digest is None:
            return query
        if query is not None:
            check_hash(query, digest)
            await self._keep(digest, query, runnable)
            return query
        found = self._memo.get(digest) or await self._store.load(digest)
        if found is None:
            raise PersistedQueryRefused("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
        self._remember(digest, found)
        return found

    async def _keep(self, digest: str, query: str, runnable: Runnable) -> None:
        """Stores a document within the size bound. One over it still runs, unstored:
        Apollo's and urql's links only fall back to sending the document on NOT_FOUND,
        so refusing it would leave such a query no way to run at all. One its request
        does not run (a syntax error, a validation error, over a limit) is answered with
        its error and not stored: its hash stays unknown, so a lookup by hash answers
        NOT_FOUND rather than the error again, and the store keeps its room for
        documents that run."""
        if len(query.encode()) > self._store.bounds.max_bytes or digest in self._memo:
            return
        if runnable(query):
            await self._store.store(digest, query)
            self._remember(digest, query)

    def _remember(self, digest: str, query: str) -> None:
        self._memo[digest] = query
        self._memo.move_to_end(digest)
        while len(self._memo) > self._memo_size:
            self._memo.popitem(last=False)
