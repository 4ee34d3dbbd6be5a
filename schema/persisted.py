"""Persisted queries: a request may name its document by SHA-256 hash instead of sending it.

Apollo's automatic persisted queries (APQ): a client sends
`extensions.persistedQuery = {version: 1, sha256Hash}` alone; an unknown hash is
answered PERSISTED_QUERY_NOT_FOUND, and the client retries with the document, which
the server checks against the hash and stores in Redis, bounded in size, count and
age. The trusted-documents mode (schema/trusted.py) answers the same protocol from a
fixed list instead.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis

from projections.keys import Keys

VERSION = 1
HASH = re.compile(r"[0-9a-f]{64}")


class PersistedQueryRefused(Exception):
    """A request the persisted-query rules refuse before any parsing: it gets this code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


@dataclass(frozen=True)
class Bounds:
    """What the automatic store keeps: documents up to `max_bytes`, at most `max_count`
    of them (the oldest stored go first), each for `ttl_seconds` after it was last sent."""

    max_bytes: int = 32 * 1024
    max_count: int = 1_000
    ttl_seconds: int = 7 * 24 * 3600


class Documents(Protocol):
    """Where a request's document comes from when it names one by hash."""

    async def resolve(self, query: str | None, extensions: dict[str, Any] | None) -> str | None:
        """The document to run: the query sent, or the one the hash names. Raises
        PersistedQueryRefused for what may not run."""


def requested_hash(extensions: dict[str, Any] | None) -> str | None:
    """The hash of `extensions.persistedQuery`, checked; None when there is none."""
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict) or persisted.get("version") != VERSION:
        raise PersistedQueryRefused(
            "PERSISTED_QUERY_NOT_SUPPORTED", f"only persistedQuery version {VERSION} is supported"
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not HASH.fullmatch(digest):
        raise PersistedQueryRefused(
            "BAD_USER_INPUT", "persistedQuery.sha256Hash must be 64 lowercase hex digits"
        )
    return digest


def check_hash(query: str, digest: str) -> None:
    if sha256(query) != digest:
        raise PersistedQueryRefused("BAD_USER_INPUT", "provided sha does not match query")


class AutomaticPersistedQueries:
    """Apollo's APQ over a Redis store, with a small in-process memo of hashes already
    seen: a hash names one document forever, so the memo can never be stale."""

    def __init__(self, redis: Redis, keys: Keys, bounds: Bounds, memo_size: int = 256) -> None:
        self._redis = redis
        self._keys = keys
        self._bounds = bounds
        self._memo: OrderedDict[str, str] = OrderedDict()
        self._memo_size = memo_size

    async def resolve(self, query: str | None, extensions: dict[str, Any] | None) -> str | None:
        digest = requested_hash(extensions)
        query = query or None  # WebSocket clients send "" for a document named by hash
        if digest is None:
            return query
        if query is not None:
            check_hash(query, digest)
            await self._store(digest, query)
            return query
        found = self._memo.get(digest) or await self._load(digest)
        if found is None:
            raise PersistedQueryRefused("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
        return found

    async def _load(self, digest: str) -> str | None:
        # GETEX renews the age of a document still in use.
        found = await self._redis.getex(
            self._keys.persisted_query(digest), ex=self._bounds.ttl_seconds
        )
        assert found is None or isinstance(found, str)  # the client decodes responses
        if found is not None:
            self._remember(digest, found)
        return found

    async def _store(self, digest: str, query: str) -> None:
        if len(query.encode()) > self._bounds.max_bytes:
            raise PersistedQueryRefused(
                "BAD_USER_INPUT",
                f"a persisted query may be at most {self._bounds.max_bytes} bytes",
            )
        if digest in self._memo:
            return
        index = self._keys.persisted_queries()
        now = time.time()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._keys.persisted_query(digest), query, ex=self._bounds.ttl_seconds)
            pipe.zadd(index, {digest: now})
            pipe.zremrangebyscore(index, "-inf", now - self._bounds.ttl_seconds)
            pipe.zcard(index)
            *_, count = await pipe.execute()
        if count > self._bounds.max_count:
            await self._evict(count - self._bounds.max_count)
        self._remember(digest, query)

    async def _evict(self, excess: int) -> None:
        oldest = await self._redis.zpopmin(self._keys.persisted_queries(), excess)
        digests = [str(entry[0]) for entry in oldest if isinstance(entry, (tuple, list))]
        if digests:
            await self._redis.delete(*(self._keys.persisted_query(d) for d in digests))

    def _remember(self, digest: str, query: str) -> None:
        self._memo[digest] = query
        self._memo.move_to_end(digest)
        while len(self._memo) > self._memo_size:
            self._memo.popitem(last=False)
