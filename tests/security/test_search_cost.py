"""A search of several words is charged to the query cost budget by what its walk inside
Redis looked at (protection/query_cost_rate.py, searching), and counts its matches only
for a client that asks for `totalCount`. The cost limit prices a search by its page: ten
common words cost Redis 26-42 ms at 20,000 posts, priced as any page of 20."""

from __future__ import annotations

import dataclasses
import json

import httpx2 as httpx

from domain.commands import CreatePost, PublishPost, RegisterUser
from infra.settings import Settings
from protection.config import RateLimits
from tests.support.in_process import send, settle
from tests.support.served_app import serving

POSTS = 400
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet"
PAGE = f'{{ searchPosts(query: "{WORDS}") {{ edges {{ node {{ id }} }} }} }}'
COUNTED = f'{{ searchPosts(query: "{WORDS}") {{ totalCount edges {{ node {{ id }} }} }} }}'


def client_at(url: str, address: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=url, transport=transport, timeout=30)


async def test_a_search_is_charged_for_its_walk_and_counts_only_when_asked(
    settings: Settings,
) -> None:
    """400 posts hold all ten words. Priced by its page, a search cost 42 whether it
    counted or not: 23 fit a budget of 1,000. Now a page also pays for the slice it walks
    (204 members, ten lookups each: 64 units), and the count for every post of the rarest
    word, ten lookups each (4,000: 125 units), before it is made: 231 a counted search,
    four fit; a page alone, 106: nine fit."""
    limited = dataclasses.replace(
        settings,
        rate_limits=RateLimits(query_cost="1000/minute"),
        edge=dataclasses.replace(settings.edge, max_query_cost=1000),
    )
    async with serving(limited) as (url, inkwell):
        ann = (await send(inkwell, RegisterUser("Ann")))["user_id"]
        for n in range(POSTS):
            post = (await send(inkwell, CreatePost(f"Post {n}", WORDS, ()), ann))["post_id"]
            await send(inkwell, PublishPost(post), ann)
        await settle(inkwell)
        http_url = url.replace("ws://", "http://").removesuffix("/graphql")
        # Parsed first for an address not counted below: a document's first parse is
        # charged too (protection/new_documents.py), and tested on its own.
        async with client_at(http_url, "127.0.0.250") as first:
            for document in (PAGE, COUNTED):
                await first.post("/graphql", json={"query": document})

        async with client_at(http_url, "127.0.0.2") as paging:
            for _ in range(9):
                answer = (await paging.post("/graphql", json={"query": PAGE})).json()
                assert len(answer["data"]["searchPosts"]["edges"]) == 20, answer

        async with client_at(http_url, "127.0.0.3") as counting:
            answers = [
                (await counting.post("/graphql", json={"query": COUNTED})).json() for _ in range(10)
            ]
        counted = [a for a in answers if "errors" not in a]
        assert 3 <= len(counted) <= 5, json.dumps(answers)[:2000]
        assert all(a["data"]["searchPosts"]["totalCount"] == POSTS for a in counted)
        refused = answers[len(counted)]
        (error,) = refused["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED", refused
        assert error["extensions"]["retryAfter"] > 0, refused
        # Refused before the count's call to Redis, which ran all the same when it was
        # charged after; it read "Too many query cost".
        assert error["message"].startswith("Query cost budget spent: this search's next step")
