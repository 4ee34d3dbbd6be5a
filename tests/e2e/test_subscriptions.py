"""Subscriptions through a real server and the real gql client: what readers watch change live."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from gql.transport.exceptions import TransportQueryError
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from harness.server_process import ServerProcess
from tests.support import operations as ops
from tests.support.api import Account, Api, http_api
from tests.support.live_client import Stream, session
from tests.support.shared_server import shared_server

POST = """subscription($id: ID!) {
  post(id: $id) { id title status likeCount commentCount likedByViewer author { name }
                  topComments { body author { name } } }
}"""
FEED = "subscription { feed { id title status likeCount } }"
COMMENTS = """subscription($postId: ID!) {
  commentAdded(postId: $postId) { id body postId author { name } }
}"""
PROJECTIONS = "subscription { projections { name position headPosition lag } }"


def post_of(item: dict[str, Any]) -> dict[str, Any]:
    post: dict[str, Any] = item["post"]
    return post


@pytest.fixture(scope="module")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the module: each test watches what its own users write."""
    with shared_server(redis_url, tmp_path_factory.mktemp("subscriptions")) as running:
        yield running


@pytest.fixture
def api(server: ServerProcess) -> Api:
    return http_api(server)


@pytest.fixture
def ann(api: Api) -> Account:
    return api.register("Ann")


def test_a_post_subscription_shows_every_kind_of_change(
    server: ServerProcess, api: Api, ann: Account
) -> None:
    post = api.published_post(ann, "Live")
    bob = api.register("Bob")

    async def watch() -> None:
        async with session(server.url, bob.token) as client:
            stream = Stream(client, POST, {"id": post["id"]})
            first = post_of(await stream.until(lambda _: True))
            assert (first["title"], first["likeCount"], first["likedByViewer"]) == (
                "Live",
                0,
                False,
            )

            await asyncio.to_thread(
                api.ok, ops.LIKE_POST, {"input": {"postId": post["id"]}}, token=bob.token
            )
            liked = post_of(await stream.until(lambda i: post_of(i)["likeCount"] == 1))
            assert liked["likedByViewer"] is True

            body = {"input": {"postId": post["id"], "body": "Nice"}}
            await asyncio.to_thread(api.ok, ops.ADD_COMMENT, body, token=bob.token)
            await stream.until(lambda i: post_of(i)["commentCount"] == 1)

            edit = {
                "postId": post["id"],
                "expectedVersion": post["version"],
                "title": "Live, edited",
            }
            await asyncio.to_thread(api.ok, ops.UPDATE_POST, {"input": edit}, token=ann.token)
            await stream.until(lambda i: post_of(i)["title"] == "Live, edited")

            rename = {"input": {"name": "Bob B."}}
            await asyncio.to_thread(api.ok, ops.UPDATE_PROFILE, rename, token=bob.token)
            renamed = post_of(
                await stream.until(
                    lambda i: [c["author"]["name"] for c in post_of(i)["topComments"]] == ["Bob B."]
                )
            )
            assert renamed["commentCount"] == 1 and renamed["likeCount"] == 1
            positions = [
                (post_of(i)["likeCount"], post_of(i)["commentCount"]) for i in stream.items
            ]
            assert positions == sorted(positions), "items arrive in order"
            await stream.stop()

    asyncio.run(watch())


def test_a_post_archived_under_a_readers_subscription_ends_it_saying_so(
    server: ServerProcess, api: Api, ann: Account
) -> None:
    """The stream of a post that leaves a reader's sight ended with a bare `complete`,
    which a client cannot tell from the server going away: it now ends with the post as
    the feed tells an archiving (status ARCHIVED, nothing its author took back). Its
    author's stream goes on with the whole post."""
    post = api.published_post(ann, "Soon gone")
    bob = api.register("Bob")

    async def watch() -> None:
        async with session(server.url, bob.token) as reader, session(server.url, ann.token) as own:
            theirs = Stream(reader, POST, {"id": post["id"]})
            hers = Stream(own, POST, {"id": post["id"]})
            for stream in (theirs, hers):
                await stream.until(lambda _: True)
            archive = {"input": {"postId": post["id"]}}
            await asyncio.to_thread(api.ok, ops.ARCHIVE_POST, archive, token=ann.token)
            await theirs.ended()
            assert theirs.error is None
            assert post_of(theirs.items[-1]) | {"author": None} == {
                "id": post["id"], "title": "", "status": "ARCHIVED", "likeCount": 0,
                "commentCount": 0, "likedByViewer": False, "author": None, "topComments": [],
            }  # fmt: skip
            archived = post_of(await hers.until(lambda i: post_of(i)["status"] == "ARCHIVED"))
            assert archived["title"] == "Soon gone"
            rename = {"input": {"name": "Ann B."}}
            await asyncio.to_thread(api.ok, ops.UPDATE_PROFILE, rename, token=ann.token)
            await hers.until(lambda i: post_of(i)["author"]["name"] == "Ann B.")
            await hers.stop()

    asyncio.run(watch())


def test_comments_of_a_post_archived_under_a_reader_end_as_a_new_subscribe_would(
    server: ServerProcess, api: Api, ann: Account
) -> None:
    """A commentAdded stream stayed open on a post archived under it, silent for good and
    holding its place in the address's subscription budget: a comments panel never
    learnt the post was gone. It now ends with NOT_FOUND, as a new subscribe is refused."""
    post = api.published_post(ann, "Soon gone")
    bob = api.register("Bob")

    async def watch() -> None:
        async with session(server.url, bob.token) as client:
            comments = Stream(client, COMMENTS, {"postId": post["id"]})
            body = {"input": {"postId": post["id"], "body": "Nice"}}
            await comments.until_live(
                lambda: asyncio.to_thread(api.ok, ops.ADD_COMMENT, body, token=bob.token)
            )
            archive = {"input": {"postId": post["id"]}}
            await asyncio.to_thread(api.ok, ops.ARCHIVE_POST, archive, token=ann.token)
            await comments.ended()
            assert isinstance(comments.error, TransportQueryError)
            assert comments.error.errors is not None
            assert comments.error.errors[0]["extensions"]["code"] == "NOT_FOUND"

    asyncio.run(watch())


def test_the_feed_carries_publications_later_changes_and_archiving_of_published_posts(
    server: ServerProcess, api: Api, ann: Account
) -> None:
    async def watch() -> None:
        async with session(server.url) as client:
            stream = Stream(client, FEED)
            await stream.until_live(lambda: asyncio.to_thread(api.published_post, ann, "Warm-up"))
            draft = await asyncio.to_thread(api.create_post, ann, "Not yet")
            published = await asyncio.to_thread(api.published_post, ann, "Out now")
            await stream.until(lambda i: i["feed"]["id"] == published["id"])
            await asyncio.to_thread(
                api.ok, ops.LIKE_POST, {"input": {"postId": published["id"]}}, token=ann.token
            )
            await stream.until(lambda i: i["feed"]["likeCount"] == 1)
            await asyncio.to_thread(
                api.ok, ops.ARCHIVE_POST, {"input": {"postId": published["id"]}}, token=ann.token
            )
            archived = await stream.until(lambda i: i["feed"]["status"] == "ARCHIVED")
            # A list drops it; what it held is its author's alone now.
            assert archived["feed"] == {
                "id": published["id"], "title": "", "status": "ARCHIVED", "likeCount": 0
            }  # fmt: skip
            await asyncio.to_thread(
                api.ok, ops.ARCHIVE_POST, {"input": {"postId": draft["id"]}}, token=ann.token
            )
            await asyncio.to_thread(api.published_post, ann, "Marker")
            await stream.until(lambda i: i["feed"]["title"] == "Marker")
            assert all(item["feed"]["id"] != draft["id"] for item in stream.items)
            await stream.stop()

    asyncio.run(watch())


def test_comment_added_streams_the_comments_of_one_post(
    server: ServerProcess, api: Api, ann: Account
) -> None:
    watched, other = api.published_post(ann, "Watched"), api.published_post(ann, "Other")

    async def watch() -> None:
        async with session(server.url, legacy=True) as client:  # the legacy protocol works too
            stream = Stream(client, COMMENTS, {"postId": watched["id"]})

            async def comment(post: dict[str, Any], body: str) -> None:
                variables = {"input": {"postId": post["id"], "body": body}}
                await asyncio.to_thread(api.ok, ops.ADD_COMMENT, variables, token=ann.token)

            await stream.until_live(lambda: comment(watched, "warm-up"))
            for post, body in ((other, "elsewhere"), (watched, "here"), (watched, "last")):
                await comment(post, body)
            await stream.until(lambda i: i["commentAdded"]["body"] == "last")
            items = [i["commentAdded"] for i in stream.items]
            assert [c["body"] for c in items if c["body"] != "warm-up"] == ["here", "last"]
            assert all(c["author"]["name"] == "Ann" for c in items)
            await stream.stop()

    asyncio.run(watch())


def test_the_projections_subscription_shows_progress(
    server: ServerProcess, api: Api, ann: Account
) -> None:
    async def watch() -> None:
        async with session(server.url) as client:
            stream = Stream(client, PROJECTIONS)
            first = await stream.until(lambda _: True)
            start = max(status["position"] for status in first["projections"])
            await asyncio.to_thread(api.published_post, ann)
            moved = await stream.until(
                lambda i: min(s["position"] for s in i["projections"]) >= start + 2
            )
            assert {s["name"] for s in moved["projections"]} == {
                "posts",
                "feeds",
                "users",
                "search",
                "recent_events",
            }
            await stream.stop()

    asyncio.run(watch())


def test_a_drafts_subscription_is_refused_to_all_but_its_author(
    server: ServerProcess, api: Api, ann: Account
) -> None:
    draft = api.create_post(ann, "Secret")
    bob = api.register("Bob")

    async def watch() -> None:
        async with session(server.url, bob.token) as client:
            with pytest.raises(TransportQueryError) as refused:
                await Stream(client, POST, {"id": draft["id"]}).until(lambda _: True)
            assert (refused.value.errors or [{}])[0]["extensions"]["code"] == "NOT_FOUND"
        async with session(server.url, ann.token) as client:
            stream = Stream(client, POST, {"id": draft["id"]})
            assert post_of(await stream.until(lambda _: True))["status"] == "DRAFT"
            await stream.stop()

    asyncio.run(watch())


def test_a_websocket_with_a_bad_token_is_closed_with_4403(server: ServerProcess) -> None:
    async def connect() -> int | None:
        url = server.url.replace("http", "ws", 1) + "/graphql"
        async with websockets.connect(
            url, subprotocols=[Subprotocol("graphql-transport-ws")]
        ) as ws:
            init = {"type": "connection_init", "payload": {"Authorization": "Bearer forged.token"}}
            await ws.send(json.dumps(init))
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            return closed.value.rcvd.code if closed.value.rcvd else None

    assert asyncio.run(connect()) == 4403


async def raw_socket(
    server: ServerProcess, token: str | None = None, protocol: str = "graphql-transport-ws"
) -> websockets.ClientConnection:
    """A socket past connection_ack, for the messages the gql client hides."""
    url = server.url.replace("http", "ws", 1) + "/graphql"
    ws = await websockets.connect(url, subprotocols=[Subprotocol(protocol)])
    init = {"Authorization": f"Bearer {token}"} if token else {}
    await ws.send(json.dumps({"type": "connection_init", "payload": init}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    return ws


async def answer(
    ws: websockets.ClientConnection, id_: str, payload: dict[str, Any], start: str = "subscribe"
) -> list[dict[str, Any]]:
    """The messages that answer one operation, up to its `complete` or `error`."""
    await ws.send(json.dumps({"id": id_, "type": start, "payload": payload}))
    received: list[dict[str, Any]] = []
    while not received or received[-1]["type"] not in ("complete", "error"):
        async with asyncio.timeout(10):
            message = json.loads(await ws.recv())
        if message.get("id") == id_:
            received.append(message)
    return received


def only_errors(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The errors of an answer that ended in them, whatever message carried them."""
    first = messages[0]["payload"]
    errors: list[dict[str, Any]] = first if isinstance(first, list) else first["errors"]
    return errors


def test_a_signed_in_readers_malformed_post_id_is_answered_and_frees_its_id(
    server: ServerProcess, api: Api, ann: Account
) -> None:
    """Sharing looks up a signed-in reader's post to tell whose group it joins: a
    malformed id named a Redis key that is no hash (WRONGTYPE), and a document whose
    first operation began with a fragment failed an assert; either left the id
    unanswered and taken."""
    post_id = api.published_post(ann, "Keys")["id"]
    api.comment(ann, post_id, "So the comment-ids set exists")
    bob = api.register("Bob")
    api.ok(ops.LIKE_POST, {"input": {"postId": post_id}}, token=bob.token)
    malformed: list[dict[str, Any]] = [
        {"query": f'subscription {{ post(id: "{post_id}:comment-ids") {{ title }} }}'},
        {"query": POST, "variables": {"id": f"{post_id}:likers"}},
        {
            "query": "query Q { ... on Query { __typename } } "
            f'subscription S {{ post(id: "{post_id}:likers") {{ title }} }}',
            "operationName": "S",
        },
    ]

    async def subscribe() -> list[list[dict[str, Any]]]:
        ws = await raw_socket(server, bob.token)
        async with ws:
            # The same id each time: each answer frees it for the next.
            return [only_errors(await answer(ws, "k1", payload)) for payload in malformed]

    for errors in asyncio.run(subscribe()):
        assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"], errors


def test_the_chosen_operation_decides_whose_group_a_subscription_joins(
    server: ServerProcess, api: Api, ann: Account
) -> None:
    """The author's draft named in the operation that runs, after one naming another
    post: the group is chosen by the draft, so the author sees it."""
    draft = api.create_post(ann, "Mine")
    other = api.published_post(api.register("Bob"), "Not mine")
    document = {
        "query": f'query Q {{ post(id: "{other["id"]}") {{ title }} }} '
        f'subscription S {{ post(id: "{draft["id"]}") {{ title status }} }}',
        "operationName": "S",
    }

    async def subscribe() -> dict[str, Any]:
        async with await raw_socket(server, ann.token) as ws:
            await ws.send(json.dumps({"id": "s", "type": "subscribe", "payload": document}))
            async with asyncio.timeout(10):
                message: dict[str, Any] = json.loads(await ws.recv())
            return message

    message = asyncio.run(subscribe())
    assert message["payload"] == {"data": {"post": {"title": "Mine", "status": "DRAFT"}}}


@pytest.mark.parametrize(
    ("protocol", "start"), [("graphql-transport-ws", "subscribe"), ("graphql-ws", "start")]
)
def test_a_subscription_whose_selection_pages_out_of_range_is_refused_once_and_ends(
    server: ServerProcess, api: Api, ann: Account, protocol: str, start: str
) -> None:
    """Each item runs the selection again, and each refused the page anew: one item of
    BAD_USER_INPUT after every change, the subscription never ended (an outside probe).
    Refused before the first item, as a malformed id is: once, then the end. A page in
    range, in the same shapes, is answered."""
    post_id = api.published_post(ann, "Paged")["id"]
    comments = "fragment C on Post { comments(first: $n) { totalCount } }"
    paged = (
        "subscription($id: ID!{n}) {{ post(id: $id) {{ likeCount comments{pages} "
        "{{ totalCount }} }} }}"
    )
    refused: list[tuple[dict[str, Any], str]] = [
        ({"query": paged.format(n="", pages="(first: 101)")}, "first"),
        ({"query": paged.format(n="", pages="(first: -5)")}, "first"),
        ({"query": paged.format(n="", pages='(after: "junk")')}, "after"),
        ({"query": paged.format(n=", $n: Int", pages="(first: $n)"), "variables": {"n": 500}},
         "first"),
        ({"query": paged.format(n=", $n: Int = 101", pages="(first: $n)")}, "first"),
        ({"query": "subscription { feed { id comments(last: 101) { totalCount } } }"}, "last"),
        ({"query": f"subscription($n: Int) {{ feed {{ ...C }} }} {comments}",
          "variables": {"n": 101}}, "first"),
    ]  # fmt: skip
    # Pages in range, and out of range only where the operation never runs them.
    served: list[dict[str, Any]] = [
        {"query": paged.format(n=", $n: Int", pages="(first: $n)"), "variables": {"n": 100}},
        {"query": paged.format(n="", pages="(first: 101) @skip(if: true)")},
        {"query": paged.format(n=", $n: Boolean!", pages="(first: 101) @include(if: $n)"),
         "variables": {"n": False}},
        {"query": "subscription S($id: ID!) { post(id: $id) { likeCount } } "
                  "query Q { ...F } fragment F on Query { recentPosts(first: 500) { totalCount } }",
         "operationName": "S"},
    ]  # fmt: skip

    async def subscribe() -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]]]:
        async with await raw_socket(server, ann.token, protocol) as ws:
            answers = []
            for i, (payload, _) in enumerate(refused):
                if "$id" in payload["query"]:
                    payload = {
                        **payload,
                        "variables": {"id": post_id, **payload.get("variables", {})},
                    }
                answers.append(await answer(ws, str(i), payload, start))
            firsts = []
            for i, payload in enumerate(served):
                variables = {"id": post_id, **payload.get("variables", {})}
                await ws.send(json.dumps({"id": f"s{i}", "type": start, "payload": {
                    **payload, "variables": variables}}))  # fmt: skip
                async with asyncio.timeout(10):
                    firsts.append(json.loads(await ws.recv()))
            return answers, firsts

    answers, firsts = asyncio.run(subscribe())
    for messages, (_, field) in zip(answers, refused, strict=True):
        assert [m["type"] for m in messages] == [
            "data" if protocol == "graphql-ws" else "next",
            "complete",
        ]
        errors = only_errors(messages)
        assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in errors] == [
            ("BAD_USER_INPUT", field)
        ], errors
    assert [first["payload"] for first in firsts] == [
        {"data": {"post": {"likeCount": 0, "comments": {"totalCount": 0}}}},
        {"data": {"post": {"likeCount": 0}}},
        {"data": {"post": {"likeCount": 0}}},
        {"data": {"post": {"likeCount": 0}}},
    ]


LOCATED_POST = "subscription($id: ID!) {\n  watched: post(id: $id) { id }\n}"
LOCATED_COMMENTS = "subscription($id: ID!) {\n  added: commentAdded(postId: $id) { id }\n}"


@pytest.mark.parametrize(
    ("protocol", "start"), [("graphql-transport-ws", "subscribe"), ("graphql-ws", "start")]
)
def test_a_subscriptions_field_error_has_the_path_and_locations_it_has_over_http(
    server: ServerProcess, api: Api, ann: Account, protocol: str, start: str
) -> None:
    """Errors raised while the stream is read, before its first item: strawberry sent
    them without either; graphql-js locates errors raised setting a stream up."""
    draft = api.create_post(ann, "Draft")["id"]
    bob = api.register("Bob")
    cases = [
        (LOCATED_POST, "00000000-0000-4000-8000-000000000000", "NOT_FOUND", ["watched"]),
        (LOCATED_POST, "not-an-id", "BAD_USER_INPUT", ["watched"]),
        (LOCATED_POST, draft, "NOT_FOUND", ["watched"]),
        (LOCATED_COMMENTS, draft, "NOT_FOUND", ["added"]),
        (LOCATED_COMMENTS, "not-an-id", "BAD_USER_INPUT", ["added"]),
    ]

    async def subscribe() -> list[dict[str, Any]]:
        async with await raw_socket(server, bob.token, protocol) as ws:
            answers = [
                await answer(ws, str(i), {"query": q, "variables": {"id": v}}, start)
                for i, (q, v, _, _) in enumerate(cases)
            ]
        return [only_errors(messages)[0] for messages in answers]

    for error, (_, _, code, path) in zip(asyncio.run(subscribe()), cases, strict=True):
        assert error["extensions"]["code"] == code
        assert error["path"] == path
        assert error["locations"] == [{"line": 2, "column": 3}]
    over_http = api.error(LOCATED_POST.replace("subscription", "query", 1), {"id": "not-an-id"})
    assert (over_http["path"], over_http["locations"]) == (["watched"], [{"line": 2, "column": 3}])
