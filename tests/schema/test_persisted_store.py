"""The persisted-query stores on their own: the automatic one's bounds in a real Redis, and
the trusted list read from Apollo's manifest."""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path

import pytest
from redis.asyncio import Redis

from projections.keyspace.keys import Keys
from projections.readers.persisted_queries import Bounds, PersistedQueryStore
from schema.persisted import AutomaticPersistedQueries, PersistedQueryRefused
from schema.served import build_schema
from schema.trusted import BadTrustedDocuments, load_trusted_documents
from tests.support.persisted import persisted, sha


def named(document: str) -> dict[str, object]:
    return persisted(sha(document))


def runs(document: str) -> bool:
    """What the schema answers for a document that parses, validates and is cheap."""
    return True


async def test_the_store_keeps_the_newest_documents_up_to_its_count(
    redis: Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    documents = [f"{{ __typename }} # {n}" for n in range(5)]
    writer = AutomaticPersistedQueries(
        PersistedQueryStore(redis, keys, Bounds(max_count=3, ttl_seconds=60))
    )
    for document in documents:
        assert await writer.resolve(document, named(document), runs) == document
    # A process that has not seen them (no memo) finds only the newest three.
    reader = AutomaticPersistedQueries(
        PersistedQueryStore(redis, keys, Bounds(max_count=3, ttl_seconds=60))
    )
    for document in documents[:2]:
        with pytest.raises(PersistedQueryRefused) as missing:
            await reader.resolve(None, named(document), runs)
        assert missing.value.code == "PERSISTED_QUERY_NOT_FOUND"
        assert await redis.exists(keys.persisted_query(sha(document))) == 0
    for document in documents[2:]:
        assert await reader.resolve(None, named(document), runs) == document
        assert 0 < await redis.ttl(keys.persisted_query(sha(document))) <= 60
    assert await redis.zcard(keys.persisted_queries()) == 3


async def test_stores_at_the_same_time_evict_only_what_is_over_the_count(
    redis: Redis, prefix: str
) -> None:
    """Each store popped as many of the oldest as it counted over the bound, so stores at
    the same time popped their sum: 40 at once into a full store of 1,000 left 573."""
    keys = Keys(prefix)
    store = PersistedQueryStore(redis, keys, Bounds(max_count=20, ttl_seconds=60))
    for n in range(20):
        await store.store(sha(f"{{ a{n}: __typename }}"), f"{{ a{n}: __typename }}")
    documents = [f"{{ b{n}: __typename }}" for n in range(10)]
    await asyncio.gather(*(store.store(sha(document), document) for document in documents))
    assert await redis.zcard(keys.persisted_queries()) == 20
    for document in documents:
        assert await store.load(sha(document)) == document


async def test_a_document_over_the_size_bound_runs_unstored(redis: Redis, prefix: str) -> None:
    """Sent with its hash after a NOT_FOUND, as Apollo's link does: it runs every time,
    and the hash alone stays unknown."""
    keys = Keys(prefix)
    store = AutomaticPersistedQueries(PersistedQueryStore(redis, keys, Bounds(max_bytes=64)))
    document = "{ __typename }" + " " * 64
    for _ in range(2):
        assert await store.resolve(document, named(document), runs) == document
    assert await redis.exists(keys.persisted_query(sha(document))) == 0
    with pytest.raises(PersistedQueryRefused) as missing:
        await store.resolve(None, named(document), runs)
    assert missing.value.code == "PERSISTED_QUERY_NOT_FOUND"


# A syntax error, an unknown field, 31 aliases (30 allowed), a cost of 101,101 (25,000).
NOT_RUN = [
    "{ (((",
    "{ nosuchfield }",
    "{ " + " ".join(f"a{n}: __typename" for n in range(31)) + " }",
    "{ recentPosts(first: 100) { edges { node { "
    "comments(first: 100) { edges { node { id body } } } } } } }",
]


@pytest.mark.parametrize("document", NOT_RUN)
async def test_a_document_its_request_does_not_run_is_not_stored(
    redis: Redis, prefix: str, document: str
) -> None:
    """An outside probe registered `{ (((` with its hash: the lookup by hash answered the
    syntax error again instead of NOT_FOUND, the document stored for a week."""
    keys = Keys(prefix)
    schema = build_schema()
    runnable = functools.partial(schema.runnable, operation_name=None, variables=None)
    assert not runnable(document)
    store = AutomaticPersistedQueries(PersistedQueryStore(redis, keys, Bounds()))
    assert await store.resolve(document, named(document), runnable) == document
    assert await redis.exists(keys.persisted_query(sha(document))) == 0
    with pytest.raises(PersistedQueryRefused) as missing:
        await store.resolve(None, named(document), runnable)
    assert missing.value.code == "PERSISTED_QUERY_NOT_FOUND"


async def test_the_cost_limit_is_the_one_the_requests_variables_give(
    redis: Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    schema = build_schema()
    document = (
        "query($n: Int) { recentPosts(first: $n) { edges { node { "
        "comments(first: 100) { edges { node { id body } } } } } } }"
    )
    store = AutomaticPersistedQueries(PersistedQueryStore(redis, keys, Bounds()))
    costly = functools.partial(schema.runnable, operation_name=None, variables={"n": 100})
    await store.resolve(document, named(document), costly)
    assert await redis.exists(keys.persisted_query(sha(document))) == 0
    cheap = functools.partial(schema.runnable, operation_name=None, variables={"n": 2})
    await store.resolve(document, named(document), cheap)
    assert await redis.get(keys.persisted_query(sha(document))) == document


def manifest(path: Path, operations: list[dict[str, str]]) -> Path:
    body = {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}
    path.write_text(json.dumps(body))
    return path


async def test_apollos_manifest_is_a_trusted_list(tmp_path: Path) -> None:
    body = "query Feed { recentPosts { totalCount } }"
    trusted = load_trusted_documents(
        manifest(
            tmp_path / "manifest.json",
            [{"id": sha(body), "name": "Feed", "type": "query", "body": body}],
        )
    )
    assert await trusted.resolve(None, named(body), runs) == body
    with pytest.raises(PersistedQueryRefused) as refused:
        await trusted.resolve("{ __typename }", None, runs)
    assert refused.value.code == "QUERY_NOT_IN_SAFELIST"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("missing.json", None),
        ("bad.json", "{"),
        ("other.json", json.dumps({"format": "something else"})),
        ("lying.json", None),
        ("empty.graphql", "fragment F on Post { id }"),
    ],
)
def test_a_trusted_list_that_cannot_be_read_is_refused(
    tmp_path: Path, name: str, content: str | None
) -> None:
    path = tmp_path / name
    if name == "lying.json":
        manifest(path, [{"id": "0" * 64, "name": "Feed", "body": "{ __typename }"}])
    elif content is not None:
        path.write_text(content)
    with pytest.raises(BadTrustedDocuments):
        load_trusted_documents(path)
