"""Persisted queries on a real server: Apollo's APQ over POST and GET, the bounded Redis
store, and the trusted-documents mode over HTTP and WebSocket."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import redis

from harness.server_process import ServerProcess
from tests.support.persisted import persisted, sha
from tests.support.shared_server import shared_server

GRAPHQL_RESPONSE = "application/graphql-response+json"
RECENT = "query Recent($n: Int) { recentPosts(first: $n) { totalCount } }"


def send(
    client: httpx.Client, body: dict[str, Any], accept: str = "application/json"
) -> httpx.Response:
    return client.post("/graphql", json=body, headers={"accept": accept})


def send_get(client: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
    return client.get("/graphql", params=params, headers={"accept": GRAPHQL_RESPONSE})


def code(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["extensions"]["code"])


@pytest.fixture(scope="module")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with shared_server(redis_url, tmp_path_factory.mktemp("apq")) as running:
        yield running


def unique(query: str) -> str:
    """A document no other test has registered: hashes are shared server-wide."""
    return f"{query} # {uuid.uuid4()}"


# Automatic persisted queries


def test_an_unknown_hash_is_not_found_then_the_query_registers_it(client: httpx.Client) -> None:
    query = unique(RECENT)
    digest = sha(query)
    missing = send(client, {"extensions": persisted(digest), "variables": {"n": 1}})
    assert missing.status_code == 200
    assert code(missing) == "PERSISTED_QUERY_NOT_FOUND"
    assert missing.json()["errors"][0]["message"] == "PersistedQueryNotFound"

    registered = send(client, {"query": query, "extensions": persisted(digest)})
    assert "totalCount" in registered.json()["data"]["recentPosts"]

    by_hash = send(client, {"extensions": persisted(digest), "variables": {"n": 1}})
    assert by_hash.json() == registered.json()


def test_not_found_is_a_4xx_in_the_new_media_type(client: httpx.Client) -> None:
    response = send(client, {"extensions": persisted(sha(unique(RECENT)))}, GRAPHQL_RESPONSE)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert code(response) == "PERSISTED_QUERY_NOT_FOUND"


def test_a_hash_with_a_different_query_is_refused_and_stores_nothing(
    client: httpx.Client,
) -> None:
    query = unique(RECENT)
    lie = sha(unique(RECENT))
    refused = send(client, {"query": query, "extensions": persisted(lie)})
    assert code(refused) == "BAD_USER_INPUT"
    assert code(send(client, {"extensions": persisted(lie)})) == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize(
    ("extensions", "expected"),
    [
        (persisted("0" * 64, version=2), "PERSISTED_QUERY_NOT_SUPPORTED"),
        ({"persistedQuery": "yes"}, "PERSISTED_QUERY_NOT_SUPPORTED"),
        (persisted("0" * 64, version=True), "PERSISTED_QUERY_NOT_SUPPORTED"),  # True == 1
        (persisted("0" * 64, version=1.0), "PERSISTED_QUERY_NOT_SUPPORTED"),  # type: ignore[arg-type]
        (persisted("ABC"), "BAD_USER_INPUT"),
        (persisted("g" * 64), "BAD_USER_INPUT"),
        ({"persistedQuery": {"version": 1, "sha256Hash": 7}}, "BAD_USER_INPUT"),
    ],
)
def test_malformed_persisted_query_extensions_are_refused(
    client: httpx.Client, extensions: dict[str, Any], expected: str
) -> None:
    response = send(client, {"extensions": extensions})
    assert response.status_code == 200
    assert code(response) == expected


def test_a_document_over_the_size_bound_runs_but_is_not_stored(client: httpx.Client) -> None:
    """Apollo's link sends a document with its hash only after a NOT_FOUND; refusing it
    then (as before) left a large query no way to run."""
    query = "{ __typename }" + " " * 40_000
    response = send(client, {"query": query, "extensions": persisted(sha(query))})
    assert response.json() == {"data": {"__typename": "Query"}}
    assert code(send(client, {"extensions": persisted(sha(query))})) == (
        "PERSISTED_QUERY_NOT_FOUND"
    )


# What the request that registers each answers: a syntax error, an unknown field, 31
# aliases (30 allowed), a cost of 101,101 (25,000 allowed), a subscription (WebSocket only).
NOT_RUN = {
    "subscription { feed { id } }": "BAD_REQUEST",
    "{ (((": "GRAPHQL_PARSE_FAILED",
    "{ nosuchfield }": "GRAPHQL_VALIDATION_FAILED",
    "{ " + " ".join(f"a{n}: __typename" for n in range(31)) + " }": "QUERY_TOO_COMPLEX",
    "{ recentPosts(first: 100) { edges { node { "
    "comments(first: 100) { edges { node { id body } } } } } } }": "QUERY_TOO_COMPLEX",
}


@pytest.mark.parametrize("document", sorted(NOT_RUN))
def test_a_document_that_does_not_run_is_answered_and_never_stored(
    client: httpx.Client, server: ServerProcess, document: str
) -> None:
    """`{ (((` sent with its hash was stored: the lookup by hash answered the syntax
    error again, not PERSISTED_QUERY_NOT_FOUND (an outside probe)."""
    query = unique(document)
    digest = sha(query)
    assert (
        code(send(client, {"query": query, "extensions": persisted(digest)})) == NOT_RUN[document]
    )
    assert code(send(client, {"extensions": persisted(digest)})) == "PERSISTED_QUERY_NOT_FOUND"
    with redis.Redis.from_url(server.env["REDIS_URL"]) as store:
        prefix = server.env["INKWELL_PREFIX"]
        assert not list(store.scan_iter(match=f"{prefix}:*{digest}*", count=1000))


def test_a_document_that_does_not_run_over_a_websocket_is_never_stored(
    client: httpx.Client, server: ServerProcess
) -> None:
    from websockets.sync.client import connect
    from websockets.typing import Subprotocol

    query = unique("{ nosuchfield }")
    url = server.url.replace("http", "ws") + "/graphql"
    with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as socket:
        socket.send(json.dumps({"type": "connection_init"}))
        assert json.loads(socket.recv(timeout=10))["type"] == "connection_ack"
        payload = {"query": query, "extensions": persisted(sha(query))}
        socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        refused = json.loads(socket.recv(timeout=10))
    assert refused["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    missing = send(client, {"extensions": persisted(sha(query))})
    assert code(missing) == "PERSISTED_QUERY_NOT_FOUND"


def test_get_with_a_hash_only_is_cacheable_and_never_caches_not_found(
    client: httpx.Client,
) -> None:
    query = unique(RECENT)
    body = {"extensions": persisted(sha(query)), "variables": {"n": 1}}
    missing = send_get(client, body)
    assert code(missing) == "PERSISTED_QUERY_NOT_FOUND"
    assert missing.headers["cache-control"] == "no-store"
    send(client, {**body, "query": query})
    found = send_get(client, body)
    assert found.status_code == 200
    assert "totalCount" in found.json()["data"]["recentPosts"]
    assert found.headers["cache-control"] == "public, max-age=0, s-maxage=5"


def test_a_persisted_mutation_over_get_is_405(client: httpx.Client) -> None:
    mutation = 'mutation { registerUser(input: {name: "Get"}) { position } }'
    send(client, {"query": "{ __typename }"})  # the server is up; register the mutation:
    registered = send(client, {"query": mutation, "extensions": persisted(sha(mutation))})
    assert registered.json()["data"]["registerUser"]["position"]
    response = send_get(client, {"extensions": persisted(sha(mutation))})
    assert response.status_code == 405


def test_the_store_is_bounded_in_redis(client: httpx.Client, server: ServerProcess) -> None:
    query = unique(RECENT)
    send(client, {"query": query, "extensions": persisted(sha(query))})
    store = redis.Redis.from_url(server.env["REDIS_URL"], decode_responses=True)
    try:
        prefix = server.env["INKWELL_PREFIX"]
        ttl = store.ttl(f"{prefix}:apq:{sha(query)}")
        assert 0 < ttl <= 7 * 24 * 3600
        assert store.zscore(f"{prefix}:apq-index", sha(query)) is not None
    finally:
        store.close()


# Trusted documents


TRUSTED = """
query Recent($n: Int) { recentPosts(first: $n) { ...Page } }
fragment Page on PostConnection { totalCount pageInfo { hasNextPage } }
subscription Projections { projections { name } }
"""


@pytest.fixture(scope="module")
def trusted_server(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("trusted")
    documents = directory / "operations.graphql"
    documents.write_text(TRUSTED)
    env = {"INKWELL_TRUSTED_DOCUMENTS": str(documents)}
    with shared_server(redis_url, directory, env) as running:
        yield running


def trusted_hashes() -> dict[str, str]:
    """The documents as the server hashes them: each operation printed with its fragments."""
    from graphql import parse, print_ast
    from graphql.language import DocumentNode

    document = parse(TRUSTED)
    operation, fragment, subscription = document.definitions
    recent = print_ast(DocumentNode(definitions=(operation, fragment)))
    projections = print_ast(DocumentNode(definitions=(subscription,)))
    return {"Recent": recent, "Projections": projections}


def test_trusted_mode_runs_listed_documents_by_hash_or_text(
    trusted_server: ServerProcess,
) -> None:
    recent = trusted_hashes()["Recent"]
    with httpx.Client(base_url=trusted_server.url, timeout=30) as client:
        by_hash = send(client, {"extensions": persisted(sha(recent)), "variables": {"n": 1}})
        assert by_hash.json()["data"]["recentPosts"]["pageInfo"] == {"hasNextPage": False}
        by_text = send(client, {"query": recent, "variables": {"n": 1}})
        assert by_text.json() == by_hash.json()


def test_trusted_mode_refuses_everything_else_and_stores_nothing(
    trusted_server: ServerProcess,
) -> None:
    other = "{ recentPosts { totalCount } }"
    with httpx.Client(base_url=trusted_server.url, timeout=30) as client:
        assert code(send(client, {"query": other})) == "QUERY_NOT_IN_SAFELIST"
        registering = send(client, {"query": other, "extensions": persisted(sha(other))})
        assert code(registering) == "PERSISTED_QUERY_NOT_IN_LIST"
        assert code(send(client, {"extensions": persisted(sha(other))})) == (
            "PERSISTED_QUERY_NOT_IN_LIST"
        )
        introspection = send(client, {"query": "{ __schema { types { name } } }"}, GRAPHQL_RESPONSE)
        assert introspection.status_code == 400
        assert code(introspection) == "QUERY_NOT_IN_SAFELIST"


def test_trusted_mode_holds_over_websockets(trusted_server: ServerProcess) -> None:
    from websockets.sync.client import connect
    from websockets.typing import Subprotocol

    url = trusted_server.url.replace("http", "ws") + "/graphql"
    listed = trusted_hashes()["Projections"]
    with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as socket:
        socket.send(json.dumps({"type": "connection_init"}))
        assert json.loads(socket.recv(timeout=10))["type"] == "connection_ack"
        socket.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": "subscription { projections { name lag } }"},
                }
            )
        )
        refused = json.loads(socket.recv(timeout=10))
        assert refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["code"] == "QUERY_NOT_IN_SAFELIST"
        socket.send(
            json.dumps(
                {
                    "id": "2",
                    "type": "subscribe",
                    "payload": {"query": "", "extensions": persisted(sha(listed))},
                }
            )
        )
        first = json.loads(socket.recv(timeout=10))
        assert first["type"] == "next"
        assert first["payload"]["data"]["projections"]


def test_a_trusted_documents_file_that_does_not_parse_stops_the_server(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    documents = tmp_path / "broken.graphql"
    documents.write_text("query {")
    server = ServerProcess(
        {
            "INKWELL_TRUSTED_DOCUMENTS": str(documents),
            "REDIS_URL": redis_url,
            "INKWELL_PREFIX": prefix,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'e.db'}",
            "INKWELL_DATA_DIR": str(tmp_path),
        },
        tmp_path,
    ).start(wait=False)
    assert server.process is not None
    assert server.process.wait(timeout=60) == 2  # refused with the settings: one line
    server.process = None
    assert f"INKWELL_TRUSTED_DOCUMENTS: {documents} does not parse" in server.log.read_text()
    assert "Traceback" not in server.log.read_text()
