"""A document the server has not parsed is charged to its client's query-cost budget by its
length, before it is parsed (protection/new_documents.py): new documents of 999 free
operations, each 123-134 ms of parsing and validation, five a second within the request
rate, held another client at p99 1.2 s. A document parsed before costs nothing."""

from __future__ import annotations

import contextlib
import json

import httpx2 as httpx
import pytest
import websockets

from harness.server_process import ServerProcess
from protection.new_documents import BASE_UNITS, CHARACTERS_PER_UNIT
from tests.support.persisted import persisted, sha
from tests.support.protected_server import StartServer
from tests.support.socket_protocols import acknowledged

NEW_TYPE = {"accept": "application/graphql-response+json"}
CLIENT = "127.0.0.3"  # 127.0.0.1's budget pays for the harness's readiness check


def client_at(server: ServerProcess, address: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.url, transport=transport, timeout=30, headers=NEW_TYPE)


def operations(tag: str, count: int) -> str:
    """A new document of `count` operations that cost nothing to run."""
    return " ".join(f"query Q{tag}_{i} {{ __typename }}" for i in range(count))


def padded(tag: str, characters: int) -> str:
    """A new `{ __typename }` of about `characters`, most of them one comment."""
    return f"{{ __typename }} # {tag} " + "x" * characters


def charged(document: str) -> int:
    return BASE_UNITS + len(document) // CHARACTERS_PER_UNIT


def test_a_new_document_is_charged_by_its_length_and_once_per_server(
    start_server: StartServer,
) -> None:
    server = start_server(
        INKWELL_MAX_QUERY_COST="1000", INKWELL_RATE_LIMIT_QUERY_COST="1000/minute"
    )
    first, second = operations("a", 100), operations("b", 100)
    assert 500 < charged(first) == charged(second) < 1000
    with client_at(server, CLIENT) as client, client_at(server, "127.0.0.4") as other:
        ran = client.post("/graphql", json={"query": first, "operationName": "Qa_1"})
        again = client.post("/graphql", json={"query": first, "operationName": "Qa_2"})
        refused = client.post("/graphql", json={"query": second, "operationName": "Qb_1"})
        # Parsed for another address, whose budget it was charged to, it is free here.
        elsewhere = other.post("/graphql", json={"query": second, "operationName": "Qb_1"})
        then = client.post("/graphql", json={"query": second, "operationName": "Qb_2"})
    for answer in (ran, again, elsewhere, then):
        assert answer.json() == {"data": {"__typename": "Query"}}, answer.text
    assert refused.status_code == 429, refused.text
    (error,) = refused.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["cost"] == charged(second)
    assert refused.headers["retry-after"] == str(error["extensions"]["retryAfter"])
    assert "has not seen yet" in error["message"]


def test_a_document_longer_than_the_budget_is_charged_the_whole_budget(
    start_server: StartServer,
) -> None:
    """Charged by its length alone, a long document would never fit, and never run."""
    server = start_server(
        INKWELL_MAX_QUERY_COST="1000", INKWELL_RATE_LIMIT_QUERY_COST="1000/minute"
    )
    long = padded("long", 20_000)
    assert charged(long) > 1000
    with client_at(server, CLIENT) as client:
        ran = client.post("/graphql", json={"query": long})
        refused = client.post("/graphql", json={"query": padded("next", 100)})
    assert ran.json() == {"data": {"__typename": "Query"}}, ran.text
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


def test_a_persisted_document_parsed_again_is_charged_again(start_server: StartServer) -> None:
    """A hash alone names a document stored before: once the process has forgotten its
    parse (long documents are kept four at a time), the request parses it again."""
    server = start_server(INKWELL_MAX_QUERY_COST="1000", INKWELL_RATE_LIMIT_QUERY_COST="5000/hour")
    stored = padded("stored", 17_000)
    assert 3000 < charged(stored) < 4000
    by_hash = {"extensions": persisted(sha(stored))}
    with client_at(server, CLIENT) as client:
        registered = client.post(
            "/graphql", json={"query": stored, "extensions": persisted(sha(stored))}
        )
        cached = client.post("/graphql", json=by_hash)
        for n in range(4):  # four other long documents, each from an address of its own
            with client_at(server, f"127.0.0.{10 + n}") as other:
                other.post("/graphql", json={"query": padded(f"other {n}", 17_000)})
        parsed_again = client.post("/graphql", json=by_hash)
    for answer in (registered, cached):
        assert answer.json() == {"data": {"__typename": "Query"}}, answer.text
    (error,) = parsed_again.json()["errors"]
    assert error["extensions"] == {
        "code": "RATE_LIMITED",
        "retryAfter": error["extensions"]["retryAfter"],
        "cost": charged(stored),
    }


@pytest.mark.parametrize(
    ("protocol", "start"), [("graphql-transport-ws", "subscribe"), ("graphql-ws", "start")]
)
async def test_a_new_document_over_a_socket_is_charged_before_it_is_parsed(
    start_server: StartServer, protocol: str, start: str
) -> None:
    """An operation past a rate waits for its turn on a socket; one whose turn is more
    than a minute off closes it (protection/subscribe_turns.py)."""
    server = start_server(INKWELL_MAX_QUERY_COST="1000", INKWELL_RATE_LIMIT_QUERY_COST="1000/hour")
    async with acknowledged(server, protocol, CLIENT) as socket:
        for n, document in enumerate([padded("first", 4000), padded("second", 4000)]):
            payload = {"query": document}
            await socket.send(json.dumps({"id": str(n), "type": start, "payload": payload}))
        answers = []
        with contextlib.suppress(websockets.ConnectionClosed):
            async for message in socket:
                answers.append(json.loads(message))
    assert answers[0]["id"] == "0" and answers[0]["payload"] == {"data": {"__typename": "Query"}}
    assert all(answer.get("id") != "1" for answer in answers), answers
    assert socket.close_code == 1013
    assert "query cost" in (socket.close_reason or "")
