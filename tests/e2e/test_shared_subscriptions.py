"""Subscribers of one post share one execution and receive the same bytes, while drafts
and likedByViewer stay each viewer's own."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from domain.commands import CreatePost, LikePost, RegisterUser
from infra.settings import Settings
from projections.readers.pagination import Slice
from tests.support.in_process import author_with_posts, send, settle
from tests.support.served_app import serving
from wiring.bootstrap import Inkwell

POST = "subscription($id: ID!) { post(id: $id) { id title likeCount } }"
LIKED = "subscription($id: ID!) { post(id: $id) { id likeCount likedByViewer } }"


async def connect(url: str, token: str | None = None) -> ClientConnection:
    ws = await websockets.connect(url, subprotocols=[Subprotocol("graphql-transport-ws")])
    init = {"Authorization": f"Bearer {token}"} if token else {}
    await ws.send(json.dumps({"type": "connection_init", "payload": init}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    return ws


async def subscribe(ws: ClientConnection, number: int, query: str, post_id: str) -> None:
    message = {"query": query, "variables": {"id": post_id}}
    await ws.send(json.dumps({"id": str(number), "type": "subscribe", "payload": message}))


async def next_frame(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(20):
        frame: dict[str, Any] = json.loads(await ws.recv())
    return frame


async def payloads(ws: ClientConnection, count: int) -> list[str]:
    """The next `count` frames' payloads, serialized as they came (id stripped)."""
    texts = []
    for _ in range(count):
        async with asyncio.timeout(20):
            raw = await ws.recv()
        assert isinstance(raw, str)
        texts.append(raw[raw.index('"payload":') :])
    return texts


def executions(inkwell: Inkwell) -> int:
    return inkwell.services.live.subscribers  # one mailbox per execution of `post`


async def test_readers_of_one_post_share_one_execution_and_the_same_bytes(
    settings: Settings,
) -> None:
    async with serving(settings) as (url, inkwell):
        author = await author_with_posts(inkwell, published=1)
        bob = (await send(inkwell, RegisterUser("Bob")))["user_id"]
        await settle(inkwell)
        page = await inkwell.services.reads.posts_by_author(author, None, Slice(1))
        post_id = page.posts[0][1].id
        bob_token = inkwell.services.tokens.issue(bob)

        anonymous = await connect(url)
        signed_in = await connect(url, bob_token)
        for number in range(40):
            await subscribe(anonymous, number, POST, post_id)
            await subscribe(signed_in, number, POST, post_id)
        firsts = await payloads(anonymous, 40) + await payloads(signed_in, 40)
        assert len(set(firsts)) == 1, "everyone was sent the same bytes"
        assert executions(inkwell) == 1, "80 readers, one execution"

        await send(inkwell, LikePost(post_id), bob)
        updates = await payloads(anonymous, 40) + await payloads(signed_in, 40)
        assert len(set(updates)) == 1
        assert json.loads("{" + updates[0])["payload"]["data"]["post"]["likeCount"] == 1

        # likedByViewer is the viewer's own: Bob's group is his alone.
        await subscribe(signed_in, 100, LIKED, post_id)
        await subscribe(anonymous, 100, LIKED, post_id)
        mine = (await next_frame(signed_in))["payload"]["data"]["post"]["likedByViewer"]
        theirs = (await next_frame(anonymous))["payload"]["data"]["post"]["likedByViewer"]
        assert (mine, theirs) == (True, False)
        for ws in (anonymous, signed_in):
            await ws.close()


async def test_a_draft_shows_to_its_author_only_however_subscribers_are_grouped(
    settings: Settings,
) -> None:
    async with serving(settings) as (url, inkwell):
        ann = (await send(inkwell, RegisterUser("Ann")))["user_id"]
        bob = (await send(inkwell, RegisterUser("Bob")))["user_id"]
        draft = (await send(inkwell, CreatePost("Secret", "Draft"), ann))["post_id"]
        await settle(inkwell)
        tokens = inkwell.services.tokens

        bob_ws = await connect(url, tokens.issue(bob))
        await subscribe(bob_ws, 1, POST, draft)
        refused = await next_frame(bob_ws)
        ann_ws = await connect(url, tokens.issue(ann))
        await subscribe(ann_ws, 1, POST, draft)
        shown = await next_frame(ann_ws)
        anonymous = await connect(url)
        await subscribe(anonymous, 1, POST, draft)
        refused_too = await next_frame(anonymous)

        assert shown["payload"]["data"]["post"]["title"] == "Secret"
        for frame in (refused, refused_too):
            assert frame["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND", frame
        for ws in (bob_ws, ann_ws, anonymous):
            await ws.close()
