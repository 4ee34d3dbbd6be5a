"""A client that reconnects resumes `feed` and `commentAdded` from the largest position it
received (`after:`): it gets what changed meanwhile, then the live stream, over a real
server and the real gql client. Before, whatever changed while it was away never
reached it, and nothing told it so."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gql.transport.exceptions import TransportQueryError

from harness.server_process import ServerProcess
from tests.support import operations as ops
from tests.support.api import Account, Api, http_api
from tests.support.live_client import Stream, session
from tests.support.shared_server import shared_server

FEED = """subscription($after: Int) {
  feed(after: $after) { id title status likeCount likedByViewer commentCount readModelPosition }
}"""
COMMENTS = """subscription($postId: ID!, $after: Int) {
  commentAdded(postId: $postId, after: $after) { id body position }
}"""
# 12 contents of up to 100,000 characters cost 2,402 an item: 10 fit a query's 25,000.
HEAVY_FEED = (
    "subscription($after: Int) { feed(after: $after) { id "
    + " ".join(f"c{i}: content" for i in range(12))
    + " } }"
)
POSTS = "query($first: Int) { recentPosts(first: $first) { edges { node { id commentCount } } } }"


@pytest.fixture(scope="module")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the module: each test resumes after its own writes began, so what
    the others wrote before is behind its position."""
    with shared_server(redis_url, tmp_path_factory.mktemp("resume")) as running:
        yield running


@pytest.fixture
def api(server: ServerProcess) -> Api:
    return http_api(server)


def position_of(item: dict[str, Any]) -> int:
    position: int = item["feed"]["readModelPosition"]
    return position


def like(api: Api, who: Account, post: dict[str, Any]) -> None:
    api.ok(ops.LIKE_POST, {"input": {"postId": post["id"]}}, token=who.token)


async def seen_up_to(server: ServerProcess, api: Api, author: Account) -> int:
    """Follows the feed until the client's own post arrives, then disconnects: the
    largest position it received."""
    async with session(server.url) as client:
        stream = Stream(client, FEED)
        await stream.until_live(lambda: asyncio.to_thread(api.published_post, author, "Seen"))
        return max(position_of(item) for item in stream.items)


@pytest.mark.parametrize("legacy", [False, True], ids=["graphql-transport-ws", "legacy"])
def test_a_feed_resumed_after_a_disconnect_gets_what_changed_then_live(
    server: ServerProcess, api: Api, legacy: bool
) -> None:
    ann, bob = api.register("Ann"), api.register("Bob")
    liked, commented, archived = (api.published_post(ann, t) for t in ("L", "C", "A"))
    after = asyncio.run(seen_up_to(server, api, ann))

    # While the client is away: a like, a comment, an archiving, a draft, a publication.
    like(api, bob, liked)
    api.comment(bob, commented["id"], "Meanwhile")
    api.ok(ops.ARCHIVE_POST, {"input": {"postId": archived["id"]}}, token=ann.token)
    draft = api.create_post(ann, "Draft")
    new = api.published_post(ann, "New")

    async def resume() -> list[dict[str, Any]]:
        async with session(server.url, bob.token, legacy=legacy) as client:
            stream = Stream(client, FEED, {"after": after})
            await stream.until(lambda _: len(stream.items) == 4)
            live = await asyncio.to_thread(api.published_post, ann, "Live")
            await stream.until(lambda item: item["feed"]["id"] == live["id"])
            await stream.stop()
            return [item["feed"] for item in stream.items]

    items = asyncio.run(resume())
    shown = [(i["title"], i["status"], i["likeCount"], i["likedByViewer"]) for i in items]
    assert shown == [
        ("L", "PUBLISHED", 1, True),
        ("C", "PUBLISHED", 0, False),
        ("", "ARCHIVED", 0, False),  # Bob is told, not shown: the post is Ann's alone now
        ("New", "PUBLISHED", 0, False),
        ("Live", "PUBLISHED", 0, False),
    ]
    assert items[1]["commentCount"] == 1 and items[3]["id"] == new["id"]
    positions = [i["readModelPosition"] for i in items]
    assert positions == sorted(positions) and positions[0] > after
    assert draft["id"] not in {i["id"] for i in items}


ARCHIVED_FEED = """subscription($after: Int) {
  feed(after: $after) {
    id title content tags status commentCount likeCount topComments { body }
    comments { totalCount edges { node { body } } }
  }
}"""


def test_a_resumed_feed_tells_an_archiving_without_the_post_only_to_who_may_list_it(
    server: ServerProcess, api: Api
) -> None:
    """feed(after: P - 1), P the archiving, sent anyone the archived post's title, content
    and comments; from any earlier position too, so every archived post was one resume
    away. Now: only its id and status (a list drops it), to a client whose position is at
    or after the post's publication less one; its author alone sees it whole."""
    ann, bob = api.register("Ann"), api.register("Bob")
    post = api.create_post(ann, "Secret", content="the archived body", tags=["hidden"])
    published = api.ok(ops.PUBLISH_POST, {"input": {"postId": post["id"]}}, token=ann.token)
    api.comment(bob, post["id"], "a comment on it")
    archived = api.ok(ops.ARCHIVE_POST, {"input": {"postId": post["id"]}}, token=ann.token)
    marker = api.published_post(bob, "Marker")  # after all of it: in every catch-up below
    publication = int(published["publishPost"]["position"])
    archiving = int(archived["archivePost"]["position"])

    async def resume(after: int, token: str | None) -> list[dict[str, Any]]:
        async with session(server.url, token) as client:
            stream = Stream(client, ARCHIVED_FEED, {"after": after})
            await stream.until(lambda item: item["feed"]["id"] == marker["id"])
            await stream.stop()
            return [item["feed"] for item in stream.items if item["feed"]["id"] == post["id"]]

    def sent(after: int, token: str | None = None) -> list[dict[str, Any]]:
        return asyncio.run(resume(after, token))

    told = {
        "id": post["id"], "title": "", "content": "", "tags": [], "status": "ARCHIVED",
        "commentCount": 0, "likeCount": 0, "topComments": [],
        "comments": {"totalCount": 0, "edges": []},
    }  # fmt: skip
    assert sent(archiving - 1) == [told]  # anonymous
    assert sent(publication, bob.token) == [told]
    # The recipe resumes after the largest position less one: after `publication - 1`
    # the client may list it (its publication was the largest position it had).
    assert sent(publication - 1) == [told]
    assert sent(publication - 2) == []  # the client could not have listed it
    assert sent(archiving) == []
    (own,) = sent(archiving - 1, ann.token)
    assert (own["title"], own["content"], own["comments"]["totalCount"]) == (
        "Secret",
        "the archived body",
        1,
    )


def test_comments_resumed_after_a_disconnect_are_those_added_meanwhile_then_live(
    server: ServerProcess, api: Api
) -> None:
    ann, bob = api.register("Ann"), api.register("Bob")
    post = api.published_post(ann, "Talk")

    async def first_then_away() -> int:
        async with session(server.url) as client:
            stream = Stream(client, COMMENTS, {"postId": post["id"]})
            await stream.until_live(lambda: asyncio.to_thread(api.comment, bob, post["id"], "Hi"))
            position: int = stream.items[-1]["commentAdded"]["position"]
            return position

    after = asyncio.run(first_then_away())
    kept = api.comment(bob, post["id"], "Kept")
    deleted = api.comment(bob, post["id"], "Deleted")
    api.comment(bob, api.published_post(ann, "Other")["id"], "Elsewhere")
    api.ok(ops.DELETE_COMMENT, {"input": {"commentId": deleted["commentId"]}}, token=bob.token)

    async def resume() -> list[dict[str, Any]]:
        async with session(server.url) as client:
            stream = Stream(client, COMMENTS, {"postId": post["id"], "after": after})
            await stream.until(lambda _: bool(stream.items))
            await asyncio.to_thread(api.comment, ann, post["id"], "Live")
            await stream.until(lambda item: item["commentAdded"]["body"] == "Live")
            await stream.stop()
            return [item["commentAdded"] for item in stream.items]

    items = asyncio.run(resume())
    assert [(c["body"], c["position"]) for c in items[:1]] == [("Kept", int(kept["position"]))]
    assert [c["body"] for c in items] == ["Kept", "Live"]


def test_subscribers_with_different_positions_each_get_their_own_catch_up(
    server: ServerProcess, api: Api
) -> None:
    """Two `after`s on one socket, and two viewers: nothing is shared between them, and
    likedByViewer is each subscriber's own."""
    ann, bob = api.register("Ann"), api.register("Bob")
    first = api.published_post(ann, "First")
    after = asyncio.run(seen_up_to(server, api, ann))
    like(api, bob, first)
    api.published_post(ann, "Second")

    def shown(stream: Stream) -> list[tuple[str, bool]]:
        return [(i["feed"]["title"], i["feed"]["likedByViewer"]) for i in stream.items]

    async def resume_twice() -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
        async with session(server.url, bob.token) as client:
            earlier = Stream(client, FEED, {"after": after})
            await earlier.until(lambda _: len(earlier.items) == 2)
            middle = position_of(earlier.items[0])
            later = Stream(client, FEED, {"after": middle})  # beside the first, same socket
            await later.until(lambda _: bool(later.items))
            await asyncio.sleep(0.5)
            await earlier.stop()
            await later.stop()
            return shown(earlier), shown(later)

    async def resume_as_ann() -> list[tuple[str, bool]]:
        async with session(server.url, ann.token) as client:
            stream = Stream(client, FEED, {"after": after})
            await stream.until(lambda _: len(stream.items) == 2)
            await asyncio.sleep(0.5)
            await stream.stop()
            return shown(stream)

    assert asyncio.run(resume_twice()) == (
        [("First", True), ("Second", False)],
        [("Second", False)],
    )
    assert asyncio.run(resume_as_ann()) == [("First", False), ("Second", False)]


def test_a_gap_larger_than_the_catch_up_may_cost_is_resubscribe(
    server: ServerProcess, api: Api
) -> None:
    """The catch-up is costed as a page: each item costs what the subscription costs per
    change, and together they must fit a query's limit (25,000)."""
    ann = api.register("Ann")
    after = asyncio.run(seen_up_to(server, api, ann))
    for n in range(10):
        api.published_post(ann, f"Gap {n}")

    async def resume() -> tuple[list[dict[str, Any]], Exception | None]:
        async with session(server.url) as client:
            stream = Stream(client, HEAVY_FEED, {"after": after})
            await stream.until(lambda _: len(stream.items) == 10)
            await stream.stop()
            await asyncio.to_thread(api.published_post, ann, "One too many")
            refused = Stream(client, HEAVY_FEED, {"after": after})
            with pytest.raises(TransportQueryError) as ended:
                await refused.until(lambda _: False)
            return stream.items, ended.value

    items, error = asyncio.run(resume())
    assert len(items) == 10
    assert isinstance(error, TransportQueryError) and error.errors
    assert error.errors[0]["extensions"] == {"code": "RESUBSCRIBE"}
    assert "more than 10 changes since position" in error.errors[0]["message"]


@pytest.mark.parametrize(
    ("after", "code"), [(-1, "BAD_USER_INPUT"), (2_000_000_000, "RESUBSCRIBE")]
)
def test_a_position_that_cannot_be_resumed_from_is_refused(
    server: ServerProcess, after: int, code: str
) -> None:
    """Below 0 is bad input; past what the read models ever reach (another log's, say),
    RESUBSCRIBE once the wait for them (INKWELL_CONSISTENCY_TIMEOUT) is over."""

    async def resume() -> Exception:
        async with session(server.url) as client:
            stream = Stream(client, FEED, {"after": after})
            with pytest.raises(TransportQueryError) as ended:
                await stream.until(lambda _: False, timeout=20)
            return ended.value

    error = asyncio.run(resume())
    assert isinstance(error, TransportQueryError) and error.errors
    assert error.errors[0]["extensions"]["code"] == code, error.errors


def test_writes_racing_reconnects_leave_no_gap_and_no_repeat(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    """A writer publishes and comments without pause while the client disconnects and
    resumes again and again from the largest position it received. Every resumed
    stream carries each (post, position) at most once, in order, all after its `after`;
    at the end the client's view of every post equals the server's."""
    ann = api.register("Ann")
    posts = [api.published_post(ann, f"Raced {n}")["id"] for n in range(3)]
    after = asyncio.run(seen_up_to(server, api, ann))
    stop = threading.Event()
    written: list[str] = []
    # The writer waits for a new reconnect after each third of its writes, so that they
    # race at least three: on a quiet machine all 60 went in before the second one.
    reconnected = threading.Semaphore(0)

    def write() -> None:
        chosen = random.Random(7)
        for n in range(60):
            if n % 20 == 0:
                assert reconnected.acquire(timeout=30), "the client stopped reconnecting"
            if n % 4 == 0:
                posts.append(api.published_post(ann, f"Raced {len(posts)}")["id"])
            else:
                api.comment(ann, chosen.choice(posts), f"Comment {n}")
            written.append(str(n))
        stop.set()

    async def follow() -> tuple[dict[str, dict[str, Any]], int]:
        seen: dict[str, dict[str, Any]] = {post: {"commentCount": 0} for post in posts}
        delivered: set[tuple[str, int]] = set()
        last, rounds = after, 0
        writer = asyncio.create_task(asyncio.to_thread(write))
        chosen = random.Random(11)
        while not stop.is_set() or rounds == 0:
            rounds += 1
            reconnected.release()
            async with session(server.url) as client:
                stream = Stream(client, FEED, {"after": last})
                await asyncio.sleep(chosen.uniform(0.05, 0.4))
                await stream.stop()
            assert stream.error is None, stream.error
            positions = [position_of(item) for item in stream.items]
            assert positions == sorted(positions) and all(p > last for p in positions)
            for item in stream.items:
                key = (item["feed"]["id"], position_of(item))
                assert key not in delivered, f"sent twice: {key}"
                delivered.add(key)
                seen[item["feed"]["id"]] = item["feed"]
            last = max([last, *positions])
        await writer
        async with session(server.url) as client:  # the last reconnect, once all is written
            stream = Stream(client, FEED, {"after": last})
            end = await asyncio.to_thread(api.published_post, ann, "End")
            await stream.until(lambda item: item["feed"]["id"] == end["id"])
            await stream.stop()
        for item in stream.items:
            assert (item["feed"]["id"], position_of(item)) not in delivered
            seen[item["feed"]["id"]] = item["feed"]
        return seen, rounds

    seen, rounds = asyncio.run(follow())
    assert rounds >= 3 and len(written) == 60
    truth = {
        edge["node"]["id"]: edge["node"]["commentCount"]
        for edge in api.ok(POSTS, {"first": 100})["recentPosts"]["edges"]
    }
    assert {post: seen[post]["commentCount"] for post in posts} == {
        post: truth[post] for post in posts
    }
