"""A query with X-Consistent-With whose reads meet a flush of Redis after its wait runs
again once the read models are rebuilt (schema/consistency.py, `consistently`), and a
mutation's payload read is made again so (schema/context.py, `Context.settled`).

An outside probe flushed Redis every 3.5 s under read-your-writes reads: 7 of some
4,000 came back with `post: null` for a post that existed, or without the comment just
added. The request was sent 5 ms before a flush and answered 4 ms after it: the wait's
poll had found the checkpoints at the position, and the read ran after the flush. The
fault is put exactly there: the wait returns, then Redis is flushed, then the query
reads. The projectors run, on a Redis of the test's own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from harness.redis_server import PrivateRedis
from tests.support import operations as ops
from tests.support.api import Api
from tests.support.settings import make_settings
from wiring.asgi import create_app


@pytest.fixture
def client(private_redis: PrivateRedis, sqlite_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(sqlite_url, private_redis.url, "test", tmp_path)
    with TestClient(create_app(settings)) as client:
        yield client


def watch_waits(client: TestClient, after_first: Callable[[], None] = lambda: None) -> list[int]:
    """Lists the positions of the app's read-your-writes waits as each returns;
    `after_first` runs right after the first has returned, before the query reads."""
    waiter: Any = client.app.state.services.consistency  # type: ignore[attr-defined]
    wait_for = waiter.wait_for
    waits: list[int] = []

    async def watched(position: int, timeout: float, **kw: Any) -> None:
        await wait_for(position, timeout, **kw)
        waits.append(position)
        if len(waits) == 1:
            after_first()

    waiter.wait_for = watched
    return waits


def flush(redis: PrivateRedis) -> None:
    with redis.client() as admin:
        admin.flushall()


def flush_before_first(client: TestClient, read: str, redis: PrivateRedis) -> list[bool]:
    """Flushes Redis right before the app's first call of its ReadModels method `read`;
    the list returned holds True once it has."""
    reads: Any = client.app.state.services.reads  # type: ignore[attr-defined]
    original = getattr(reads, read)
    flushed: list[bool] = []

    async def flushed_first(*args: Any) -> Any:
        if not flushed:
            flush(redis)
            flushed.append(True)
        return await original(*args)

    setattr(reads, read, flushed_first)
    return flushed


def test_a_post_read_after_a_flush_is_read_again_not_answered_null(
    client: TestClient, private_redis: PrivateRedis
) -> None:
    api = Api(client)
    ann = api.register("Ann")
    post = api.create_post(ann, "Kept")
    published = api.ok(ops.PUBLISH_POST, {"input": {"postId": post["id"]}}, token=ann.token)
    position = published["publishPost"]["position"]
    waits = watch_waits(client, after_first=lambda: flush(private_redis))

    read = api.ok(ops.POST, {"id": post["id"]}, headers={"X-Consistent-With": str(position)})

    assert read["post"] is not None and read["post"]["title"] == "Kept"
    assert len(waits) == 2  # waited, read during the flush, waited again, read again


def test_a_query_with_nothing_to_read_again_answers_once(client: TestClient) -> None:
    """Without a flush, one wait and one run: the check after the reads costs one MGET."""
    api = Api(client)
    ann = api.register("Ann")
    post = api.create_post(ann, "Kept")
    waits = watch_waits(client)
    consistent = {"X-Consistent-With": str(ann.position)}
    read = api.ok(ops.POST, {"id": post["id"]}, token=ann.token, headers=consistent)
    assert read["post"]["title"] == "Kept" and len(waits) == 1


def test_a_mutations_payload_read_after_a_flush_is_read_again_not_refused(
    client: TestClient, private_redis: PrivateRedis
) -> None:
    """The payload's read waits for the mutation's own position, then reads: met by a
    flush, it answered that the committed post was hidden from its author."""
    api = Api(client)
    ann = api.register("Ann")
    post = api.create_post(ann, "Kept")
    waits = watch_waits(client, after_first=lambda: flush(private_redis))

    published = api.ok(ops.PUBLISH_POST, {"input": {"postId": post["id"]}}, token=ann.token)

    assert published["publishPost"]["post"]["status"] == "PUBLISHED"
    assert len(waits) == 2


ADD_COMMENT_WITH_PAGE = """
mutation($input: AddCommentInput!) {
  addComment(input: $input) {
    commentId
    post { commentCount likedByViewer comments(last: 100) { totalCount edges { node { id } } } }
  }
}"""


def test_a_payloads_nested_reads_after_a_flush_are_read_again_not_empty(
    client: TestClient, private_redis: PrivateRedis
) -> None:
    """The payload's post is read at the mutation's position; its comments page and
    likedByViewer are reads of their own, after it. A flush between them answered the new
    commentCount beside an empty page (an outside probe: 26 of 1,094 addComment payloads,
    a FLUSHALL every 0.7 s). The flush is put exactly there."""
    api = Api(client)
    ann = api.register("Ann")
    post = api.published_post(ann, "Kept")
    api.ok(ops.LIKE_POST, {"input": {"postId": post["id"]}}, token=ann.token)
    flushed = flush_before_first(client, "comment_pages", private_redis)
    variables = {"input": {"postId": post["id"], "body": "Mine"}}
    added = api.ok(ADD_COMMENT_WITH_PAGE, variables, token=ann.token)["addComment"]

    assert flushed
    page = added["post"]["comments"]
    assert added["post"]["commentCount"] == page["totalCount"] == 1
    assert [edge["node"]["id"] for edge in page["edges"]] == [added["commentId"]]
    assert added["post"]["likedByViewer"] is True


def test_a_delete_comment_whose_post_read_meets_a_flush_is_not_refused_as_hidden(
    client: TestClient, private_redis: PrivateRedis
) -> None:
    """deleteComment selecting `post` reads the comment, then its post, before the
    command runs, to refuse a post hidden from the caller. A flush between the two read
    answered NOT_FOUND "not visible to you" for a published post (an outside probe: 3 of
    445 deletes, a FLUSHALL every 0.7 s). The flush is put exactly there."""
    api = Api(client)
    ann = api.register("Ann")
    post = api.published_post(ann, "Kept")
    variables = {"input": {"postId": post["id"], "body": "Mine"}}
    comment_id = api.ok(ops.ADD_COMMENT, variables, token=ann.token)["addComment"]["commentId"]
    flushed = flush_before_first(client, "post", private_redis)
    deleted = api.ok(ops.DELETE_COMMENT, {"input": {"commentId": comment_id}}, token=ann.token)

    assert flushed
    assert deleted["deleteComment"]["post"] == {"id": post["id"], "commentCount": 0}
