"""Live subscriptions of a real server whose private Redis goes down, is flushed or comes
back empty: every change still arrives, or the stream ends with RESUBSCRIBE."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from gql.transport.exceptions import TransportQueryError

from harness.redis_server import PrivateRedis
from harness.server_process import ROOT, ServerProcess
from tests.support.api import Account, Api, http_api
from tests.support.live_client import Stream, session
from tests.support.processes import projector_of

FEED = "subscription { feed { id title } }"
POST = "subscription($id: ID!) { post(id: $id) { id likeCount } }"
CREATE = "mutation($i: CreatePostInput!) { createPost(input: $i) { postId position } }"
PUBLISH = "mutation($i: PostCommandInput!) { publishPost(input: $i) { position } }"
LIKE = "mutation($i: PostCommandInput!) { likePost(input: $i) { position } }"


def _env(server_env: dict[str, str], redis: PrivateRedis, **extra: str) -> dict[str, str]:
    return {**server_env, "REDIS_URL": redis.url, **extra}


def _publish(api: Api, author: Account, title: str) -> str:
    """Commits without waiting for the read models (Redis may be down)."""
    post_id: str = api.ok(CREATE, {"i": {"title": title, "content": "x"}}, token=author.token)[
        "createPost"
    ]["postId"]
    api.ok(PUBLISH, {"i": {"postId": post_id}}, token=author.token)
    return post_id


def _titles(stream: Stream) -> set[str]:
    return {item["feed"]["title"] for item in stream.items}


async def _following(stream: Stream, api: Api, author: Account) -> None:
    """Returns once the feed subscription delivers: a probe post has come through."""
    await asyncio.to_thread(_publish, api, author, "probe")
    await stream.until(lambda item: item["feed"]["title"] == "probe", timeout=30)


def _verify(env: dict[str, str], cwd: Path) -> str:
    """`server.py verify` against the same log and Redis: exits 0 when they match. Run
    while the server runs: verify projects nothing, and read models a stopped server
    left a few events behind are a difference (it had brought them up itself)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "verify"],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _metric(server: ServerProcess, name: str) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


def test_the_feed_delivers_every_publication_across_a_redis_outage(
    server_env: dict[str, str], tmp_path: Path, private_redis: PrivateRedis
) -> None:
    env = _env(server_env, private_redis)
    with ServerProcess(env, tmp_path) as server:
        api = http_api(server)
        ann = api.register("Ann")

        async def watch() -> None:
            async with session(server.url) as client:
                stream = Stream(client, FEED)
                await _following(stream, api, ann)
                titles = [f"before {i}" for i in range(5)]
                for title in titles:
                    await asyncio.to_thread(_publish, api, ann, title)
                private_redis.stop_keeping_data()
                for i in range(5):  # committed to the log; their notices cannot be sent
                    titles.append(f"during {i}")
                    await asyncio.to_thread(_publish, api, ann, titles[-1])
                await asyncio.sleep(3)  # Redis stays down a while: the outage itself
                private_redis.start()
                for i in range(5):
                    titles.append(f"after {i}")
                    await asyncio.to_thread(_publish, api, ann, titles[-1])
                await stream.until(lambda _: set(titles) <= _titles(stream), timeout=60)
                await stream.stop()

        asyncio.run(watch())
        assert _metric(server, "inkwell_pubsub_disconnects_total") >= 1
        assert "pub/sub connection lost" in server.log.read_text()
        _verify(env, tmp_path)


@pytest.mark.parametrize("fault", ["flush", "empty restart"])
def test_live_streams_go_on_after_redis_loses_its_data(
    server_env: dict[str, str], tmp_path: Path, private_redis: PrivateRedis, fault: str
) -> None:
    env = _env(server_env, private_redis)
    with ServerProcess(env, tmp_path) as server:
        api = http_api(server)
        ann = api.register("Ann")
        readers = [api.register(f"Reader {i}") for i in range(4)]
        # Read back through the read models: the post subscription's first state needs it.
        watched = api.published_post(ann, "watched")["id"]

        async def watch() -> None:
            async with session(server.url) as feed_client, session(server.url) as post_client:
                feed = Stream(feed_client, FEED)
                post = Stream(post_client, POST, {"id": watched})
                await _following(feed, api, ann)
                await post.until(lambda item: item["post"]["id"] == watched, timeout=30)
                titles = ["before"]
                await asyncio.to_thread(_publish, api, ann, "before")
                await asyncio.to_thread(
                    api.ok, LIKE, {"i": {"postId": watched}}, token=readers[0].token
                )
                await post.until(lambda item: item["post"]["likeCount"] == 1, timeout=30)

                if fault == "flush":
                    private_redis.flush()
                else:
                    private_redis.kill()
                    private_redis.start()

                for i in range(3):
                    titles.append(f"after {i}")
                    await asyncio.to_thread(_publish, api, ann, titles[-1])
                for reader in readers[1:]:
                    await asyncio.to_thread(
                        api.ok, LIKE, {"i": {"postId": watched}}, token=reader.token
                    )
                await feed.until(lambda _: set(titles) <= _titles(feed), timeout=60)
                await post.until(lambda item: item["post"]["likeCount"] == 4, timeout=60)
                # The rebuild is no change: nothing shown again, nothing shown going back.
                counts = [item["post"]["likeCount"] for item in post.items]
                assert all(a < b for a, b in itertools.pairwise(counts)), counts
                # (The watched post shows again with each like: those are changes.)
                shown = [i["feed"]["title"] for i in feed.items if i["feed"]["id"] != watched]
                assert sorted(shown) == sorted(["probe", *titles]), shown
                await feed.stop()
                await post.stop()

        asyncio.run(watch())
        _verify(env, tmp_path)


def test_a_stream_that_cannot_resume_ends_with_resubscribe(
    server_env: dict[str, str], tmp_path: Path, private_redis: PrivateRedis
) -> None:
    env = _env(server_env, private_redis, INKWELL_LIVE_GIVE_UP_SECONDS="1")
    with ServerProcess(env, tmp_path) as server:
        api = http_api(server)
        ann = api.register("Ann")

        async def watch() -> dict[str, Any]:
            async with session(server.url) as client:
                stream = Stream(client, FEED)
                await _following(stream, api, ann)
                private_redis.stop_keeping_data()
                try:
                    with pytest.raises(TransportQueryError) as ended:
                        await stream.until(lambda _: False, timeout=60)
                finally:
                    private_redis.start()
                error: dict[str, Any] = ended.value.errors[0]  # type: ignore[index]
                return error

        error = asyncio.run(watch())
        assert error["extensions"]["code"] == "RESUBSCRIBE", error
        assert _metric(server, 'inkwell_live_resyncs_total{outcome="ended"}') >= 1


COMMENTS = (
    "subscription($id: ID!, $after: Int) { commentAdded(postId: $id, after: $after) { body } }"
)
SEEN = "query($id: ID!) { post(id: $id) { readModelPosition } }"
ADD_COMMENT = "mutation($i: AddCommentInput!) { addComment(input: $i) { position } }"


def test_a_comment_subscription_made_while_redis_has_no_read_models_waits_for_them(
    server_env: dict[str, str], tmp_path: Path, private_redis: PrivateRedis
) -> None:
    """commentAdded looked its post up in Redis at once: right after a FLUSHALL (or an
    empty restart), before the rebuild, an existing post was NOT_FOUND, which tells a
    client it was archived. It now waits, as post(id) does. The projector is paused
    meanwhile, so that the rebuild cannot win the race."""
    env = _env(server_env, private_redis)
    with ServerProcess(env, tmp_path) as server:
        api = http_api(server)
        ann = api.register("Ann")
        post = api.published_post(ann, "Commented")["id"]
        # Resumed from here, it is sent the comment below wherever its join lands.
        seen = api.ok(SEEN, {"id": post})["post"]["readModelPosition"]
        projector = projector_of(server)

        async def watch() -> None:
            async with session(server.url) as client:
                projector.suspend()
                try:
                    private_redis.flush()
                    stream = Stream(client, COMMENTS, {"id": post, "after": seen})
                    with pytest.raises(TimeoutError):  # waiting, not NOT_FOUND
                        await stream.until(lambda _: True, timeout=2)
                finally:
                    projector.resume()
                comment = {"i": {"postId": post, "body": "After the flush"}}
                await asyncio.to_thread(api.ok, ADD_COMMENT, comment, token=ann.token)
                await stream.until(
                    lambda item: item["commentAdded"]["body"] == "After the flush", timeout=60
                )
                await stream.stop()

        asyncio.run(watch())
