"""A store that cannot be reached, against a real server: Redis killed, the SQLite log locked
by another process. Each request answers at once with the code UNAVAILABLE, which a client
retries, never INTERNAL_SERVER_ERROR, a 500 or a wait of many seconds; writes still commit
while Redis is away; and everything works again once the store is back."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx

from harness.redis_server import PrivateRedis
from harness.server_process import ServerProcess
from tests.support import operations as ops
from tests.support.api import Api, http_api
from tests.support.live_client import Stream, session
from tests.support.persisted import persisted, sha
from tests.support.waiting import until_true

RECENT = "{ recentPosts { edges { node { id title } } } }"
CREATE = "mutation($i: CreatePostInput!) { createPost(input: $i) { position } }"
DRAFTS = "query($id: ID!) { user(id: $id) { posts { edges { node { title } } } } }"
LIKES = "subscription($id: ID!) { post(id: $id) { likeCount } }"
# Each answer within this: redis-py's default retries held a query 8 s and a mutation 10 s.
PROMPT = 3.0


def _prompt(server: ServerProcess) -> Api:
    return Api(httpx.Client(base_url=server.url, timeout=PROMPT))


def test_with_redis_gone_requests_answer_unavailable_at_once_and_writes_still_commit(
    server_on_private_redis: ServerProcess, private_redis: PrivateRedis
) -> None:
    server = server_on_private_redis
    api = http_api(server)
    ann = api.register("Ann")
    api.create_post(ann, "Before")
    private_redis.kill()
    prompt = _prompt(server)

    error = prompt.error(RECENT)
    assert error["extensions"] == {"code": "UNAVAILABLE"}, error
    assert "try again" in error["message"]
    # The log is the truth, and it is there: the write commits and says where.
    written = prompt.ok(CREATE, {"i": {"title": "During", "content": "x"}}, token=ann.token)
    position = int(written["createPost"]["position"])
    # A persisted query's lookup comes before execution: a refusal without data.
    extensions = persisted(sha(RECENT))
    response = prompt.client.post("/graphql", json={"extensions": extensions})
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.json()["errors"][0]["extensions"] == {"code": "UNAVAILABLE"}

    private_redis.start()  # empty: the projectors rebuild from the log
    consistent = {"X-Consistent-With": str(position)}
    for _ in range(6):  # each wait 5 s: a loaded CI machine took longer than one
        body = api.call(RECENT, headers=consistent)
        if "errors" not in body:
            break
        assert body["errors"][0]["extensions"]["code"] == "CONSISTENCY_TIMEOUT", body
    titles = [edge["node"]["title"] for edge in body["data"]["recentPosts"]["edges"]]
    assert titles == [], titles  # neither was published
    mine = api.ok(DRAFTS, {"id": ann.id}, token=ann.token)["user"]["posts"]["edges"]
    assert sorted(edge["node"]["title"] for edge in mine) == [
        "Before",
        "During",
    ]
    response = api.client.post("/graphql", json={"query": RECENT, "extensions": extensions})
    assert response.status_code == 200 and "errors" not in response.json(), response.text


def test_with_redis_frozen_requests_answer_within_their_deadlines(
    server_on_private_redis: ServerProcess, private_redis: PrivateRedis
) -> None:
    """A Redis that holds its connections open and answers nothing (SIGSTOP here; a
    partition that drops packets does the same): a query used to wait 40 s, a write
    over a minute, `{ __typename }` 20 s, in the rate limits' calls."""
    server = server_on_private_redis
    api = http_api(server)
    ann = api.register("Ann")
    private_redis.freeze()
    try:
        # The deadlines: 1 s for a rate-limit call, 3 s for a query's read.
        patient = Api(httpx.Client(base_url=server.url, timeout=10))
        error = patient.error(RECENT)
        assert error["extensions"] == {"code": "UNAVAILABLE"}, error
        # The rate limits failed once: for a while they let requests through unasked.
        # Asked, they held each request 1 s per limit met: a mutation 3 s.
        started = time.monotonic()
        assert patient.ok("{ __typename }") == {"__typename": "Query"}
        written = patient.ok(CREATE, {"i": {"title": "Frozen", "content": "x"}}, token=ann.token)
        took = time.monotonic() - started
    finally:
        private_redis.thaw()
    assert took < 1.0, took
    position = written["createPost"]["position"]
    consistent = {"X-Consistent-With": position}
    mine = api.ok(DRAFTS, {"id": ann.id}, token=ann.token, headers=consistent)
    assert [edge["node"]["title"] for edge in mine["user"]["posts"]["edges"]] == ["Frozen"]


def test_with_redis_frozen_a_live_stream_waits_and_goes_on(
    server_on_private_redis: ServerProcess, private_redis: PrivateRedis
) -> None:
    """A live topic looks for changes every second; while Redis is frozen each read ends
    at its 3 s deadline. The topic retries, logging one warning (it was a traceback), and
    delivers the changes made after Redis answers again."""
    server = server_on_private_redis
    api = http_api(server)
    ann = api.register("Ann")
    post = api.published_post(ann, "Watched")

    async def watch() -> None:
        async with session(server.url) as client:
            stream = Stream(client, LIKES, {"id": post["id"]})
            await stream.until(lambda item: item["post"]["likeCount"] == 0)
            private_redis.freeze()
            try:
                await asyncio.sleep(5)  # past one read's deadline
            finally:
                private_redis.thaw()
            await asyncio.to_thread(
                api.ok, ops.LIKE_POST, {"input": {"postId": post["id"]}}, token=ann.token
            )
            await stream.until(lambda item: item["post"]["likeCount"] == 1, timeout=30)
            await stream.stop()

    asyncio.run(watch())
    assert "cannot read what changed (TimeoutError" in server.log.read_text()


def test_with_the_log_locked_a_write_answers_unavailable_and_appends_nothing(
    server: ServerProcess, sqlite_url: str
) -> None:
    """Another process holds the SQLite file's write lock (a backup, an operator's shell)
    past the writer's busy timeout."""
    api = http_api(server)
    ann = api.register("Ann")
    database = sqlite_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        error = Api(httpx.Client(base_url=server.url, timeout=30)).error(
            CREATE, {"i": {"title": "Locked out", "content": "x"}}, token=ann.token
        )
        assert error["extensions"] == {"code": "UNAVAILABLE"}, error
        # Every read still answers, so only the failed commit shows it: degraded, still 200.
        ready = httpx.get(f"{server.url}/ready", timeout=10)
        assert ready.status_code == 200
        assert ready.json()["degraded"] == ["database"], ready.json()
        assert "the latest commit failed" in ready.json()["checks"]["database"]["reason"]
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    after = api.ok(CREATE, {"i": {"title": "Let in", "content": "x"}}, token=ann.token)[
        "createPost"
    ]
    assert int(after["position"]) == ann.position + 1  # the refused one appended nothing
    # A commit went through: the database is writable again.
    # /ready reuses its answer for up to a second (observability/recent_answer.py).
    until_true(
        lambda: (
            httpx.get(f"{server.url}/ready", timeout=10).json()["checks"]["database"]
            == {"ok": True}
        )
    )


def test_a_commit_waiting_on_a_lock_held_elsewhere_shows_in_ready_before_it_fails(
    server: ServerProcess, sqlite_url: str
) -> None:
    """Until SQLite's busy timeout (10 s) a locked file fails no commit: every mutation
    waited while /ready said ready (an outside probe). Released in time, the waiting
    mutation commits and /ready says ready again."""
    api = http_api(server)
    ann = api.register("Ann")
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(
                api.ok, CREATE, {"i": {"title": "Waits", "content": "x"}}, token=ann.token
            )
            until_true(lambda: _database_check(server).get("degraded") is True, timeout=6)
            assert "a commit has waited" in str(_database_check(server)["reason"])
            assert not waiting.done()
            holder.execute("ROLLBACK")
            assert int(waiting.result(timeout=30)["createPost"]["position"]) == ann.position + 1
    finally:
        holder.close()
    until_true(lambda: _database_check(server) == {"ok": True})


def _database_check(server: ServerProcess) -> dict[str, object]:
    check: dict[str, object] = httpx.get(f"{server.url}/ready", timeout=10).json()["checks"][
        "database"
    ]
    return check


def test_with_the_logs_write_ahead_file_deleted_no_write_is_acknowledged_until_a_restart(
    server: ServerProcess, sqlite_url: str
) -> None:
    """An operator deletes the SQLite log's `-wal` under the running server (an outside
    probe): the writer's connection went on committing into the deleted file, and 75
    mutations were answered with success, then were not in the log at the next start,
    while /ready already said the log could not be opened."""
    api = http_api(server)
    ann = api.register("Ann")
    api.create_post(ann, "Before")
    os.unlink(sqlite_url.removeprefix("sqlite:///") + "-wal")
    for title in ("After", "And after"):
        error = api.error(CREATE, {"i": {"title": title, "content": "x"}}, token=ann.token)
        assert error["extensions"] == {"code": "UNAVAILABLE"}, error
    until_true(lambda: httpx.get(f"{server.url}/ready", timeout=10).status_code == 503)
    assert "was deleted under the running server: restart it" in server.log.read_text()
    server.stop()
    server.start()  # a log without its lost tail: it takes writes again
    api.ok(CREATE, {"i": {"title": "Restarted", "content": "x"}}, token=api.register("Bob").token)
