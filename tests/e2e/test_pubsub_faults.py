"""A real server whose every pub/sub message may be lost or repeated on its way from Redis:
read models still equal a replay of the log, and live subscribers still see every change."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from harness.redis_server import PrivateRedis
from harness.server_process import ROOT, ServerProcess
from tests.support.api import Account, Api, http_api
from tests.support.live_client import Stream, session
from tests.support.pubsub_faults import PubSubFaultProxy

FEED = "subscription { feed { id title } }"
POST = "subscription($id: ID!) { post(id: $id) { id likeCount commentCount } }"
COMMENTS = "subscription($postId: ID!) { commentAdded(postId: $postId) { id body } }"
CREATE = "mutation($i: CreatePostInput!) { createPost(input: $i) { postId position } }"
PUBLISH = "mutation($i: PostCommandInput!) { publishPost(input: $i) { position } }"
LIKE = "mutation($i: PostCommandInput!) { likePost(input: $i) { position } }"
COMMENT = "mutation($i: AddCommentInput!) { addComment(input: $i) { commentId position } }"
RENAME = "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { position } }"
HEAD = "{ projections { lag } }"


def _published(api: Api, author: Account, title: str) -> tuple[str, int]:
    post_id = api.ok(CREATE, {"i": {"title": title, "content": "x"}}, token=author.token)[
        "createPost"
    ]["postId"]
    done = api.ok(PUBLISH, {"i": {"postId": post_id}}, token=author.token)
    return post_id, int(done["publishPost"]["position"])


def test_lost_and_repeated_messages_leave_every_read_model_equal_to_a_replay(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    with (
        PrivateRedis(tmp_path) as redis,
        PubSubFaultProxy(redis.port, drop=0.3, duplicate=0.3, seed=8) as proxy,
        ServerProcess({**server_env, "REDIS_URL": proxy.url}, tmp_path) as server,
    ):
        api = http_api(server)
        ann, bob = api.register("Ann"), api.register("Bob")
        readers = [api.register(f"Reader {i}") for i in range(10)]
        watched, position = _published(api, ann, "watched")
        api.ok(HEAD, headers={"X-Consistent-With": str(position)})  # before it is followed

        async def work() -> None:
            async with session(server.url) as client:
                feed = Stream(client, FEED)
                post = Stream(client, POST, {"id": watched})
                comments = Stream(client, COMMENTS, {"postId": watched})
                await post.until(lambda item: item["post"]["id"] == watched, timeout=30)
                titles = []
                comment_ids = []
                for i in range(15):
                    titles.append(f"post {i}")
                    await asyncio.to_thread(_published, api, (ann, bob)[i % 2], titles[-1])
                for reader in readers:
                    await asyncio.to_thread(
                        api.ok, LIKE, {"i": {"postId": watched}}, token=reader.token
                    )
                    added = await asyncio.to_thread(
                        api.ok,
                        COMMENT,
                        {"i": {"postId": watched, "body": f"from {reader.id}"}},
                        token=reader.token,
                    )
                    comment_ids.append(added["addComment"]["commentId"])
                await asyncio.to_thread(
                    api.ok, RENAME, {"i": {"name": "Ann Again"}}, token=ann.token
                )
                await feed.until(
                    lambda _: set(titles) <= {i["feed"]["title"] for i in feed.items}, timeout=60
                )
                await post.until(
                    lambda item: (
                        item["post"]["likeCount"] == 10 and item["post"]["commentCount"] == 10
                    ),
                    timeout=60,
                )
                await comments.until(
                    lambda _: {i["commentAdded"]["id"] for i in comments.items} == set(comment_ids),
                    timeout=60,
                )
                for stream in (feed, post, comments):
                    await stream.stop()

        asyncio.run(work())
        settled = api.ok(HEAD, headers={"X-Consistent-With": str(_head(api, ann))})
        assert all(status["lag"] == 0 for status in settled["projections"])
        assert proxy.tally.dropped > 10 and proxy.tally.duplicated > 10, proxy.tally

        # The replay reads Redis directly, not through the proxy.
        done = subprocess.run(
            [sys.executable, str(ROOT / "server.py"), "verify"],
            env={**os.environ, **server_env, "REDIS_URL": redis.url},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "the read models match the log" in done.stdout


def _head(api: Api, author: Account) -> int:
    """The log's head: the position of a write made last."""
    done = api.ok(RENAME, {"i": {"name": "Ann At Last"}}, token=author.token)
    return int(done["updateProfile"]["position"])
