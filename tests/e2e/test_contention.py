"""A popular post under concurrent traffic: forty readers act at once, and every one succeeds."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2 as httpx

from harness.server_process import ServerProcess
from tests.support import operations as ops
from tests.support.api import http_api

LIKE = "mutation($i: PostCommandInput!) { likePost(input: $i) { position } }"
COMMENT = "mutation($i: AddCommentInput!) { addComment(input: $i) { position } }"


async def send(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str
) -> dict[str, Any]:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body: dict[str, Any] = response.json()
    return body


def test_forty_readers_liking_and_commenting_at_once_all_succeed(server: ServerProcess) -> None:
    api = http_api(server)
    author = api.register("Author")
    post = api.published_post(author, "Popular")
    readers = [api.register(f"Reader {i}") for i in range(40)]

    async def everyone_at_once() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            likes = [send(client, LIKE, {"i": {"postId": post["id"]}}, r.token) for r in readers]
            comments = [
                send(
                    client, COMMENT, {"i": {"postId": post["id"], "body": f"Hi from {i}"}}, r.token
                )
                for i, r in enumerate(readers)
            ]
            return await asyncio.gather(*likes, *comments)

    answers = asyncio.run(everyone_at_once())
    assert [answer for answer in answers if "errors" in answer] == []
    head = max(int(next(iter(answer["data"].values()))["position"]) for answer in answers)
    shown = api.ok(
        ops.POST_ENGAGEMENT, {"id": post["id"]}, headers={"X-Consistent-With": str(head)}
    )
    assert (shown["post"]["likeCount"], shown["post"]["commentCount"]) == (40, 40)
    assert len(shown["post"]["topComments"]) == 3
