"""A Redis that answers but refuses writes, against a real server: out of memory under the
`noeviction` policy Inkwell asks for, a replica after a failover (READONLY), or a primary
holding writes back while it fails over (CLIENT PAUSE WRITE). Reads
still work, so queries must answer, persisted queries included (a document sent with
its hash once gave a plain-text 500); writes still commit to the log; and once Redis
takes writes again, the read models catch up with every acknowledged write."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.net import free_port
from harness.redis_server import PrivateRedis
from harness.server_process import ROOT, ServerProcess
from tests.support.api import http_api
from tests.support.live_client import Stream, session
from tests.support.persisted import persisted, sha

RECENT = "{ recentPosts { edges { node { title } } } }"
NEVER_SENT = "{ recentPosts(first: 7) { totalCount } }"
CREATE = "mutation($i: CreatePostInput!) { createPost(input: $i) { position } }"
DRAFTS = "query($id: ID!) { user(id: $id) { posts { edges { node { title } } } } }"

Switch = Callable[[PrivateRedis], None]


def _out_of_memory(redis: PrivateRedis) -> None:
    with redis.client() as client:
        client.config_set("maxmemory", 1)


def _memory_back(redis: PrivateRedis) -> None:
    with redis.client() as client:
        client.config_set("maxmemory", 0)


def _demoted(redis: PrivateRedis) -> None:
    """A replica of a primary that is gone: it keeps its data and serves reads."""
    with redis.client() as client:
        client.replicaof("127.0.0.1", free_port())


def _promoted(redis: PrivateRedis) -> None:
    with redis.client() as client:
        client.replicaof("NO", "ONE")


@pytest.mark.parametrize(
    ("refuse", "allow"),
    [(_out_of_memory, _memory_back), (_demoted, _promoted)],
    ids=["out of memory", "read-only replica"],
)
def test_while_redis_refuses_writes_queries_and_persisted_queries_answer_and_writes_commit(
    server_on_private_redis: ServerProcess,
    private_redis: PrivateRedis,
    refuse: Switch,
    allow: Switch,
) -> None:
    server = server_on_private_redis
    api = http_api(server)
    ann = api.register("Ann")
    api.published_post(ann, "Before")
    refuse(private_redis)

    assert api.ok(RECENT)["recentPosts"]["edges"] == [{"node": {"title": "Before"}}]
    # A document sent with its hash runs, though Redis would not store it.
    sent = api.client.post("/graphql", json={"query": RECENT, "extensions": persisted(sha(RECENT))})
    assert sent.status_code == 200, sent.text
    assert sent.json() == {"data": {"recentPosts": {"edges": [{"node": {"title": "Before"}}]}}}
    # A hash alone that Redis cannot look up is not found: the client sends its document.
    alone = api.client.post("/graphql", json={"extensions": persisted(sha(NEVER_SENT))})
    assert alone.status_code == 200, alone.text
    assert alone.json()["errors"][0]["extensions"] == {"code": "PERSISTED_QUERY_NOT_FOUND"}
    # The log is the truth: the write commits while the read models wait.
    written = api.ok(CREATE, {"i": {"title": "During", "content": "x"}}, token=ann.token)
    position = written["createPost"]["position"]

    allow(private_redis)
    consistent = {"X-Consistent-With": position}
    mine = api.ok(DRAFTS, {"id": ann.id}, token=ann.token, headers=consistent)
    titles = sorted(edge["node"]["title"] for edge in mine["user"]["posts"]["edges"])
    assert titles == ["Before", "During"]
    stored = api.client.post(
        "/graphql", json={"query": NEVER_SENT, "extensions": persisted(sha(NEVER_SENT))}
    )
    assert stored.json() == {"data": {"recentPosts": {"totalCount": 1}}}, stored.text
    with private_redis.client() as client:
        assert client.keys("*:apq:*"), "stored once Redis takes writes again"
    assert "persisted query" in server.log.read_text()  # each refusal is a line of the log


@pytest.fixture
def redis_server_on_path(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A Redis (not Valkey, which the embedded one is) of the test's own, if one is on PATH."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server on PATH")
    with PrivateRedis(tmp_path, binary) as server:
        yield server


def test_out_of_memory_redis_answers_what_was_read_in_a_multi(
    server_env: dict[str, str], tmp_path: Path, redis_server_on_path: PrivateRedis
) -> None:
    """Redis 7.0 out of memory refuses every command queued in a
    MULTI, reads too; Valkey does not. The `projections` query, read in one, answered
    INTERNAL_SERVER_ERROR with a traceback in the log, and `commentAdded`, which looked
    its post up in one, ended at once."""
    env = {**server_env, "REDIS_URL": redis_server_on_path.url}
    with ServerProcess(env, tmp_path) as server:
        api = http_api(server)
        ann = api.register("Ann")
        post = api.published_post(ann, "Before")
        _out_of_memory(redis_server_on_path)

        statuses = api.ok("{ projections { name position } }")["projections"]
        assert {status["name"] for status in statuses} >= {"posts", "users"}
        asyncio.run(_comments_stay_open(server.url, post["id"]))
    assert "Traceback" not in server.log.read_text()


@pytest.mark.parametrize("scripts", ["known", "forgotten"])
def test_while_redis_pauses_writes_for_a_failover_queries_and_subscriptions_answer(
    server_on_private_redis: ServerProcess, private_redis: PrivateRedis, scripts: str
) -> None:
    """A failover (Sentinel's, a cluster's, the FAILOVER command) pauses the primary's
    writes with CLIENT PAUSE WRITE until the replica has caught up, and Redis holds back
    every EVALSHA then, as it cannot know that a script only reads. The read scripts (a
    page of posts, a live topic's changes) waited, and a recentPosts query answered
    UNAVAILABLE at its 3 s deadline; a subscription's first item waited for the pause's
    end. They are flagged no-writes now, and run.

    Redis reads those flags from the script, and holds back an EVALSHA of a sha it does
    not know regardless: after a restart, or on a replica just promoted (scripts are not
    copied to replicas), queries answered UNAVAILABLE for the whole pause (an outside
    probe). They go by EVALSHA_RO (projections/redisio/read_only_scripts.py)."""
    server = server_on_private_redis
    api = http_api(server)
    ann = api.register("Ann")
    post = api.published_post(ann, "Before")
    # As on a primary that has served for a while: Redis knows the scripts. (For a sha it
    # does not know, it cannot read the flags, and holds the EVALSHA back regardless.)
    api.ok(RECENT)
    asyncio.run(_first_item(server.url, post["id"]))
    with private_redis.client() as client:
        if scripts == "forgotten":
            client.script_flush()
        client.execute_command("CLIENT", "PAUSE", int(PAUSE_SECONDS * 1000), "WRITE")
    try:
        started = time.monotonic()
        assert api.ok(RECENT)["recentPosts"]["edges"] == [{"node": {"title": "Before"}}]
        first = asyncio.run(_first_item(server.url, post["id"]))
        assert first == {"post": {"title": "Before"}}
        assert time.monotonic() - started < PAUSE_SECONDS - 1, "answered only after the pause"
    finally:
        with private_redis.client() as client:
            client.execute_command("CLIENT", "UNPAUSE")


PAUSE_SECONDS = 10


async def _comments_stay_open(url: str, post_id: str) -> None:
    """commentAdded looks the post up first (in a MULTI too, once): no error arrives."""
    async with session(url) as client:
        stream = Stream(
            client, "subscription($id: ID!) { commentAdded(postId: $id) { id } }", {"id": post_id}
        )
        try:
            with pytest.raises(TimeoutError):
                await stream.until(lambda _: True, timeout=2)
        finally:
            await stream.stop()


async def _first_item(url: str, post_id: str) -> dict[str, Any]:
    async with session(url) as client:
        stream = Stream(
            client, "subscription($id: ID!) { post(id: $id) { title } }", {"id": post_id}
        )
        try:
            return await stream.until(lambda _: True, timeout=PAUSE_SECONDS)
        finally:
            await stream.stop()


def test_a_stop_while_the_projectors_cannot_take_their_leases_is_prompt(
    server_env: dict[str, str], tmp_path: Path, private_redis: PrivateRedis
) -> None:
    """`serve` waits up to a minute for its projector process to take every lease before
    it listens; with Redis out of memory it cannot, and a SIGTERM or Ctrl-C then waited
    that minute out, nothing listening, not even /health (an outside probe: 53-56 s)."""
    env = {**server_env, "REDIS_URL": private_redis.url}
    with ServerProcess(env, tmp_path):  # binds the read models to this log
        pass
    _out_of_memory(private_redis)
    server = ServerProcess(env, tmp_path).start(wait=False)
    log = server.log
    deadline = time.monotonic() + 30
    while "projectors run in process" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    time.sleep(1)  # the child tries its leases, and is refused
    stopping = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - stopping < 10, log.read_text()[-2000:]
    assert "stopping before the projectors took every lease" in log.read_text()


def test_a_new_log_on_a_redis_refusing_writes_is_refused_in_one_line(
    server_env: dict[str, str], tmp_path: Path, private_redis: PrivateRedis
) -> None:
    """Binding the read models to a new log writes to Redis: refused, `serve` ended under
    a traceback."""
    _out_of_memory(private_redis)
    process = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "serve"],
        env={**os.environ, **server_env, "REDIS_URL": private_redis.url, "PORT": "0"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 2, process.stderr
    assert "Traceback" not in process.stderr
    assert "binding the read models to this event log: Redis refused a write" in process.stderr
