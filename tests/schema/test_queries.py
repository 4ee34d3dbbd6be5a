"""Queries through the real app: visibility, lists, paging, read-your-writes, idempotency."""

from __future__ import annotations

import pytest

from tests.support import operations as ops
from tests.support.api import Account, Api


@pytest.fixture
def ann(api: Api) -> Account:
    return api.register("Ann", bio="Writes about CQRS")


def test_a_mutation_payload_shows_its_own_write(api: Api, ann: Account) -> None:
    post = api.create_post(ann, "Hello", content="World", tags=["CQRS", "intro"])
    assert post["title"] == "Hello" and post["status"] == "DRAFT" and post["version"] == 1
    assert post["tags"] == ["cqrs", "intro"]
    assert post["author"] == {"id": ann.id, "name": "Ann", "avatarUrl": None}
    assert (post["commentCount"], post["likeCount"], post["publishedAt"]) == (0, 0, None)


def test_a_draft_is_visible_to_its_author_only(api: Api, ann: Account) -> None:
    post = api.create_post(ann)
    bob = api.register("Bob")
    assert api.ok(ops.POST, {"id": post["id"]}, token=ann.token)["post"]["id"] == post["id"]
    assert api.ok(ops.POST, {"id": post["id"]})["post"] is None
    assert api.ok(ops.POST, {"id": post["id"]}, token=bob.token)["post"] is None


def test_an_archived_post_leaves_the_lists_and_stays_visible_to_its_author(
    api: Api, ann: Account
) -> None:
    post = api.published_post(ann)
    api.ok(ops.ARCHIVE_POST, {"input": {"postId": post["id"]}}, token=ann.token)
    assert api.ok(ops.RECENT)["recentPosts"]["totalCount"] == 0
    assert api.ok(ops.POST, {"id": post["id"]})["post"] is None
    assert api.ok(ops.POST, {"id": post["id"]}, token=ann.token)["post"]["status"] == "ARCHIVED"
    user = api.ok(ops.USER, {"id": ann.id})["user"]
    assert user["publishedPostCount"] == 0


def test_recent_posts_are_newest_published_first_and_page_by_cursor(api: Api, ann: Account) -> None:
    titles = [f"Post {i}" for i in range(5)]
    for title in titles:
        api.published_post(ann, title)
    first = api.ok(ops.RECENT, {"first": 2})["recentPosts"]
    assert [e["node"]["title"] for e in first["edges"]] == ["Post 4", "Post 3"]
    assert first["totalCount"] == 5 and first["pageInfo"]["hasNextPage"] is True
    rest = api.ok(ops.RECENT, {"first": 10, "after": first["pageInfo"]["endCursor"]})["recentPosts"]
    assert [e["node"]["title"] for e in rest["edges"]] == ["Post 2", "Post 1", "Post 0"]
    assert rest["pageInfo"] == {"hasNextPage": False, "endCursor": rest["edges"][-1]["cursor"]}


def test_a_cursor_stays_valid_while_new_posts_arrive(api: Api, ann: Account) -> None:
    for i in range(4):
        api.published_post(ann, f"Old {i}")
    page = api.ok(ops.RECENT, {"first": 2})["recentPosts"]
    api.published_post(ann, "Newer")
    rest = api.ok(ops.RECENT, {"first": 10, "after": page["pageInfo"]["endCursor"]})["recentPosts"]
    assert [e["node"]["title"] for e in rest["edges"]] == ["Old 1", "Old 0"]


def test_posts_by_author_lists_published_posts_and_the_author_alone_sees_drafts_on_their_profile(
    api: Api, ann: Account
) -> None:
    api.published_post(ann, "Public")
    api.create_post(ann, "Draft")
    public = api.ok(ops.BY_AUTHOR, {"authorId": ann.id}, token=ann.token)["postsByAuthor"]
    assert [e["node"]["title"] for e in public["edges"]] == ["Public"]
    own = api.ok(ops.USER, {"id": ann.id}, token=ann.token)["user"]["posts"]
    assert {e["node"]["title"] for e in own["edges"]} == {"Public", "Draft"}
    seen = api.ok(ops.USER, {"id": ann.id})["user"]
    assert [e["node"]["title"] for e in seen["posts"]["edges"]] == ["Public"]
    assert seen["publishedPostCount"] == 1 and seen["bio"] == "Writes about CQRS"


OWN_POSTS = """
query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  user(id: $id) { posts(first: $first, after: $after, last: $last, before: $before) {
    edges { node { title } } pageInfo { startCursor endCursor } } }
}"""


def test_publishing_a_draft_leaves_it_in_place_in_the_authors_own_list(
    api: Api, ann: Account
) -> None:
    """The author's own list is newest created first, drafts and published alike.
    Publishing a draft had moved it to the head: a traversal under way missed it going
    forward and met it twice going backward (an outside probe)."""
    posts = [api.create_post(ann, f"Own {i}")["id"] for i in range(6)]

    def page(**arguments: object) -> tuple[list[str], dict[str, str]]:
        found = api.ok(OWN_POSTS, {"id": ann.id, **arguments}, token=ann.token)["user"]
        return [e["node"]["title"] for e in found["posts"]["edges"]], found["posts"]["pageInfo"]

    titles, info = page(first=3)
    assert titles == ["Own 5", "Own 4", "Own 3"]
    api.publish(ann, posts[0])
    assert page(first=10, after=info["endCursor"])[0] == ["Own 2", "Own 1", "Own 0"]
    titles, info = page(last=3)
    assert titles == ["Own 2", "Own 1", "Own 0"]
    api.publish(ann, posts[1])
    assert page(last=10, before=info["startCursor"])[0] == ["Own 5", "Own 4", "Own 3"]


def test_viewer_is_the_token_holder_or_null(api: Api, ann: Account) -> None:
    assert api.ok(ops.VIEWER, token=ann.token)["viewer"] == {"id": ann.id, "name": "Ann"}
    assert api.ok(ops.VIEWER)["viewer"] is None


def test_a_rename_shows_on_every_post_of_the_author(api: Api, ann: Account) -> None:
    post = api.published_post(ann)
    renamed = api.ok(
        ops.UPDATE_PROFILE,
        {"input": {"name": "Ann B.", "avatarUrl": "https://example.com/ann.png"}},
        token=ann.token,
    )["updateProfile"]["user"]
    assert renamed["name"] == "Ann B."
    author = api.ok(ops.POST, {"id": post["id"]})["post"]["author"]
    assert author == {"id": ann.id, "name": "Ann B.", "avatarUrl": "https://example.com/ann.png"}


def test_a_rename_answers_the_author_that_posts_show(api: Api, ann: Account) -> None:
    """A normalized cache keeps a post's author (`Author:<id>`) apart from the User: the
    payload's author is what refreshes every cached post of theirs."""
    post = api.published_post(ann)
    renamed = api.ok(
        "mutation($input: UpdateProfileInput!) { updateProfile(input: $input) {"
        " author { __typename id name avatarUrl } } }",
        {"input": {"name": "Ann C.", "avatarUrl": "https://example.com/c.png"}},
        token=ann.token,
    )["updateProfile"]["author"]
    shown = api.ok(ops.POST, {"id": post["id"]})["post"]["author"]
    assert renamed == {"__typename": "Author", **shown}
    assert shown["name"] == "Ann C."


def test_a_query_sent_with_the_position_sees_the_write(api: Api, ann: Account) -> None:
    for i in range(10):
        created = api.ok(
            ops.CREATE_POST_POSITION_ONLY,
            {"input": {"title": f"T{i}", "content": ""}},
            token=ann.token,
        )["createPost"]
        publish = api.ok(
            f'query {{ user(id: "{ann.id}") {{ posts(first: 100) {{ totalCount }} }} }}',
            headers={"X-Consistent-With": created["position"]},
            token=ann.token,
        )
        assert publish["user"]["posts"]["totalCount"] == i + 1


def test_a_replayed_command_id_returns_the_same_post_and_position(api: Api, ann: Account) -> None:
    variables = {"input": {"title": "Once", "content": "", "commandId": "create-once"}}
    first = api.ok(ops.CREATE_POST, variables, token=ann.token)["createPost"]
    again = api.ok(ops.CREATE_POST, variables, token=ann.token)["createPost"]
    assert (again["position"], again["post"]["id"]) == (first["position"], first["post"]["id"])


def test_projections_report_their_position_and_lag(api: Api, ann: Account) -> None:
    api.published_post(ann)
    statuses = api.ok(ops.PROJECTIONS, headers={"X-Consistent-With": "3"})["projections"]
    names = {"posts", "feeds", "users", "search", "recent_events"}
    assert {s["name"] for s in statuses} == names
    assert all(s == {**s, "position": 3, "headPosition": 3, "lag": 0} for s in statuses)
    waits = api.ok("{ projections { lagMilliseconds } }")["projections"]
    assert waits == [{"lagMilliseconds": 0}] * len(names)


def test_recent_events_list_the_log_newest_first_and_page_like_lists(
    api: Api, ann: Account
) -> None:
    post = api.published_post(ann)
    query = "query($first: Int) { recentEvents(first: $first) { position type streamId version } }"
    events = api.ok(query, {"first": 2}, headers={"X-Consistent-With": "3"}, token=ann.token)[
        "recentEvents"
    ]
    assert events == [
        {"position": 3, "type": "PostPublished", "streamId": f"post-{post['id']}", "version": 2},
        {"position": 2, "type": "PostCreated", "streamId": f"post-{post['id']}", "version": 1},
    ]
    assert api.error(query, {"first": 101})["extensions"]["code"] == "BAD_USER_INPUT"
    shown = api.ok("query($id: ID!) { post(id: $id) { readModelPosition } }", {"id": post["id"]})
    assert shown["post"]["readModelPosition"] == 3


NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Comment { body } } }"


def test_nodes_show_comments_of_a_hidden_post_to_its_author_only(api: Api, ann: Account) -> None:
    """A comment's post is read by its status and author only (an outside probe: each
    comment id read its post whole, 400 KB a time, repeated ids included)."""
    bob = api.register("Bob")
    shown, hidden = api.published_post(ann, "Stays"), api.published_post(ann, "Goes")
    kept = api.comment(bob, shown["id"], "On a published post")["commentId"]
    gone = api.comment(bob, hidden["id"], "On an archived post")["commentId"]
    api.ok(ops.ARCHIVE_POST, {"input": {"postId": hidden["id"]}}, token=ann.token)
    ids = [gone, kept, gone, "missing", kept]
    seen = [n and n["id"] for n in api.ok(NODES, {"ids": ids}, token=bob.token)["nodes"]]
    assert seen == [None, kept, None, None, kept]
    own = [n and n["id"] for n in api.ok(NODES, {"ids": ids}, token=ann.token)["nodes"]]
    assert own == [gone, kept, gone, None, kept]
