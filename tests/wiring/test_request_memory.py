"""An answered request leaves nothing for the cyclic collector: what it carried (its body,
variables, `extensions`) is freed when it is answered, not whenever a collection runs.

graphql-core's executor was a reference cycle (schema/execution.py), and it held those;
they are untracked objects, which do not bring a collection nearer, so they piled up: an
outside probe grew a server by about 10 MB per 1 MB POST."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import httpx2 as httpx
import pytest

from infra.settings import Settings
from schema.execution import Executor
from tests.support.served_app import served

MARKER = "left-behind-marker"
EXTENSIONS = {MARKER: True, **{f"k{number}": 0 for number in range(2_000)}}


@pytest.fixture
def collector_paused() -> Iterator[None]:
    """Only what the test sends is made between its two collections."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def cyclic_garbage() -> list[object]:
    """What a collection now would find unreachable, kept for the test to look at."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    gc.set_debug(0)
    return list(gc.garbage)


async def test_queries_mutations_and_errors_leave_nothing_behind(
    settings: Settings, collector_paused: None
) -> None:
    async with served(settings) as running:
        url = running.url.replace("ws://", "http://")
        async with httpx.AsyncClient() as client:
            for body in (
                {"query": "{ __typename }", "extensions": EXTENSIONS},
                {
                    "query": "query($first: Int) { recentPosts(first: $first) { totalCount } }",
                    "variables": {"first": 5},
                    "extensions": EXTENSIONS,
                },
                {"query": "{ nope }", "extensions": EXTENSIONS},  # refused by validation
                # Errors raised (a probe found each kept by its traceback's frames):
                {"query": "{ ", "extensions": EXTENSIONS},  # by the parser
                {"query": '{ "', "extensions": EXTENSIONS},  # by the lexer
                {  # by a resolver
                    "query": "{ recentPosts(first: 1000) { totalCount } }",
                    "extensions": EXTENSIONS,
                },
                {  # in coercing the variables
                    "query": "query($n: Int) { recentPosts(first: $n) { totalCount } }",
                    "variables": {"n": "many"},
                    "extensions": EXTENSIONS,
                },
                {  # by the command's authorization
                    "query": "mutation($i: CreatePostInput!) "
                    "{ createPost(input: $i) { position } }",
                    "variables": {"i": {"title": "t", "content": "c"}},
                    "extensions": EXTENSIONS,
                },
            ):
                for _ in range(3):
                    answer = await client.post(url, json=body)
                    assert answer.status_code in (200, 400), answer.text
            for _ in range(3):  # refused before it runs: a position past the log's head
                answer = await client.post(
                    url,
                    json={"query": "{ __typename }", "extensions": EXTENSIONS},
                    headers={"X-Consistent-With": "999999"},
                )
                assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
            garbage = cyclic_garbage()

    executors = [item for item in garbage if isinstance(item, Executor)]
    assert executors == []
    holding = [
        type(item).__name__
        for item in garbage
        for held in gc.get_referents(item)
        if isinstance(held, dict) and MARKER in held
    ]
    assert holding == []
