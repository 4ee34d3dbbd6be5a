"""A post and its comments page are read one after the other; a comment added between
the two reads gave an answer whose commentCount was one short of its own page. A query
then runs again, and a shared subscription skips the item (schema/torn_reads.py).

The write is put exactly there: the app's first comments page read of the test first
adds a comment over HTTP (from another thread, while the app's loop waits) and lets it
be projected, then reads."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, cast

import pytest
from starlette.testclient import TestClient

from infra.settings import Settings
from projections.readers import pagination
from protection.config import RateLimits
from schema.torn_reads import RERUNS
from tests.support import operations as ops
from tests.support.api import Account, Api
from wiring.asgi import create_app

POST = """
query($id: ID!) {
  post(id: $id) { commentCount topComments { id } comments { totalCount edges { node { id } } } }
}"""

LIVE_POST = """
subscription($id: ID!) {
  post(id: $id) { commentCount comments { totalCount edges { node { id } } } }
}"""


def comment_before_first_page(api: Api, who: Account, post_id: str) -> list[str]:
    """Adds a comment to the post right before the app's first comments page read (once
    the mutation's answer says it is projected); the list returned holds its id then."""
    reads = cast(Any, api.client).app.state.inkwell.services.reads
    original = reads.comment_pages
    added: list[str] = []

    async def comment_first(*args: Any) -> Any:
        if not added:
            added.append("")  # the mutation's own payload reads no page, but be sure
            comment = await asyncio.to_thread(api.comment, who, post_id, "Between the reads")
            added[0] = comment["commentId"]
        return await original(*args)

    reads.comment_pages = comment_first
    return added


def comment_before_every_page(api: Api, who: Account, post_id: str) -> list[int]:
    """Adds a comment to the post before each of the app's comments page reads: every run
    of a query is torn. The list returned holds a 1 per page read."""
    reads = cast(Any, api.client).app.state.inkwell.services.reads
    original = reads.comment_pages
    pages: list[int] = []

    async def comment_each_time(*args: Any) -> Any:
        pages.append(1)
        await asyncio.to_thread(api.comment, who, post_id, f"Comment {len(pages)}")
        return await original(*args)

    reads.comment_pages = comment_each_time
    return pages


def agrees(post: dict[str, Any]) -> bool:
    edges = post["comments"]["edges"]
    return bool(post["commentCount"] == post["comments"]["totalCount"] == len(edges))


def test_a_query_whose_page_is_of_a_later_post_runs_again(api: Api) -> None:
    ann = api.register("Ann")
    post = api.published_post(ann)
    api.comment(ann, post["id"], "First")
    added = comment_before_first_page(api, ann, post["id"])

    answer = api.ok(POST, {"id": post["id"]})["post"]

    assert added and added[0]
    assert agrees(answer), answer
    assert answer["commentCount"] == 2
    assert answer["topComments"][0]["id"] == added[0]


@pytest.mark.parametrize(
    "document",
    [
        LIVE_POST,
        LIVE_POST.replace("  post(id: $id)", "  ... on Subscription { post(id: $id)") + "}",
    ],
    ids=["post at the root", "post in an inline fragment"],  # the second went unshared
)
def test_a_shared_subscription_skips_an_item_whose_page_is_of_a_later_post(
    api: Api, document: str
) -> None:
    ann = api.register("Ann")
    post = api.published_post(ann)
    api.comment(ann, post["id"], "First")
    added = comment_before_first_page(api, ann, post["id"])
    client = cast(TestClient, api.client)

    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json() == {"type": "connection_ack"}
        payload = {"query": document, "variables": {"id": post["id"]}}
        ws.send_json({"id": "p", "type": "subscribe", "payload": payload})
        first = ws.receive_json()

    assert added and added[0]
    assert first["type"] == "next", first
    item = first["payload"]["data"]["post"]
    assert agrees(item), item  # the torn first state was skipped: this is the newer one
    assert item["commentCount"] == 2


def test_a_query_torn_every_time_is_answered_after_its_reruns(api: Api) -> None:
    """A post written to between every pair of reads still gets an answer, from the last
    of 1 + RERUNS runs."""
    ann = api.register("Ann")
    post = api.published_post(ann)
    pages = comment_before_every_page(api, ann, post["id"])
    answer = api.ok(POST, {"id": post["id"]})["post"]

    assert len(pages) == 1 + RERUNS
    assert answer["comments"]["totalCount"] == 1 + RERUNS
    assert answer["commentCount"] == RERUNS  # the last run's post: torn, and answered


LIKED = "query($id: ID!) { post(id: $id) { likeCount likedByViewer } }"
LIKE = "mutation($input: PostCommandInput!) { likePost(input: $input) { position } }"


def test_a_like_read_with_a_later_post_than_its_count_runs_again(api: Api) -> None:
    """`likeCount: 0, likedByViewer: true`, a state the read model never held, was one
    answer in five for a reader liking and unliking (an outside probe)."""
    ann = api.register("Ann")
    post = api.published_post(ann)
    reads = cast(Any, api.client).app.state.inkwell.services.reads
    original = reads.liked_by
    liked: list[bool] = []

    def like() -> None:
        answer = api.ok(LIKE, {"input": {"postId": post["id"]}}, token=ann.token)
        position = answer["likePost"]["position"]
        api.ok("{ __typename }", headers={"X-Consistent-With": str(position)})  # projected

    async def like_first(*args: Any) -> Any:
        if not liked:
            liked.append(True)
            await asyncio.to_thread(like)
        return await original(*args)

    reads.liked_by = like_first
    answer = api.ok(LIKED, {"id": post["id"]}, token=ann.token)["post"]

    assert liked
    assert answer == {"likeCount": 1, "likedByViewer": True}


def test_a_page_whose_comment_went_between_its_round_trips_runs_again(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's ids and totalCount come in one round trip, its comments in the next: a
    comment deleted between them answered `totalCount: 5` beside four edges."""
    ann = api.register("Ann")
    post = api.published_post(ann)
    first = api.comment(ann, post["id"], "Soon gone")["commentId"]
    api.comment(ann, post["id"], "Stays")
    pages = pagination.pages
    deleted: list[bool] = []

    def delete() -> None:
        api.ok(ops.DELETE_COMMENT, {"input": {"commentId": first}}, token=ann.token)

    async def delete_after_first(*args: Any, **kwargs: Any) -> Any:
        found = await pages(*args, **kwargs)
        if not deleted:
            deleted.append(True)
            await asyncio.to_thread(delete)
        return found

    monkeypatch.setattr(pagination, "pages", delete_after_first)
    answer = api.ok(POST, {"id": post["id"]})["post"]

    assert deleted
    assert agrees(answer), answer
    assert answer["commentCount"] == 1


PAGE = """
query($id: ID!) {
  post(id: $id) {
    commentCount comments(first: 100) { totalCount edges { node { id body createdAt } } }
  }
}"""
# post, commentCount, comments, totalCount, edges; 100 x (node, id, body weighing 10,
# createdAt): far above what the writes around it cost (new documents, small payloads).
PAGE_COST = 5 + 100 * 13
WRITES_COST = 1_000


def test_each_run_again_is_charged_and_one_the_budget_cannot_pay_is_not_run(
    settings: Settings,
) -> None:
    """Charged once, an outside probe's costliest queries under a stream of writes ran up
    to four times each for one charge. With a budget of about two runs (the writes take
    a little of it too), a query torn every time runs twice and is answered as it came."""
    budget = WRITES_COST + 2 * PAGE_COST + PAGE_COST // 2
    limits = RateLimits(query_cost=f"{budget}/minute")
    with TestClient(create_app(dataclasses.replace(settings, rate_limits=limits))) as client:
        api = Api(client)
        ann = api.register("Ann")
        post = api.published_post(ann)
        pages = comment_before_every_page(api, ann, post["id"])
        answer = api.ok(PAGE, {"id": post["id"]})["post"]

    assert len(pages) == 2 < 1 + RERUNS
    assert answer["comments"]["totalCount"] == 2
    assert answer["commentCount"] == 1  # torn, and answered
