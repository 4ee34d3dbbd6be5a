"""Likes and comments through the app: rules, codes, and every read model that shows them."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any, cast
from unittest.mock import AsyncMock

import pytest

from infra.settings import Settings
from schema.errors import HiddenPost, code_and_details
from schema.payloads import settled_post
from tests.support import operations as ops
from tests.support.api import Account, Api
from tests.support.refusals import refused


@pytest.fixture
def ann(api: Api) -> Account:
    return api.register("Ann")


@pytest.fixture
def bob(api: Api) -> Account:
    return api.register("Bob")


def engagement(
    api: Api, post_id: str, viewer: Account | None = None, **page: Any
) -> dict[str, Any]:
    token = viewer.token if viewer else None
    post: dict[str, Any] = api.ok(ops.POST_ENGAGEMENT, {"id": post_id, **page}, token=token)["post"]
    return post


def test_a_like_counts_once_and_shows_for_its_giver_only(
    api: Api, ann: Account, bob: Account
) -> None:
    post = api.published_post(ann)
    liked = api.ok(ops.LIKE_POST, {"input": {"postId": post["id"]}}, token=bob.token)["likePost"]
    assert liked["post"] == {"id": post["id"], "likeCount": 1, "likedByViewer": True}
    assert engagement(api, post["id"], ann)["likedByViewer"] is False
    assert engagement(api, post["id"])["likedByViewer"] is False
    unliked = api.ok(ops.UNLIKE_POST, {"input": {"postId": post["id"]}}, token=bob.token)
    assert unliked["unlikePost"]["post"] == {
        "id": post["id"],
        "likeCount": 0,
        "likedByViewer": False,
    }


def test_liking_twice_breaks_a_rule(
    api: Api, settings: Settings, ann: Account, bob: Account
) -> None:
    post = api.published_post(ann)
    api.ok(ops.LIKE_POST, {"input": {"postId": post["id"]}}, token=bob.token)
    error = refused(
        api, settings, ops.LIKE_POST, {"input": {"postId": post["id"]}}, token=bob.token
    )
    assert error["extensions"] == {"code": "BUSINESS_RULE", "reason": "ALREADY_LIKED"}


def test_liking_a_draft_breaks_a_rule_for_its_author_and_is_not_found_for_others(
    api: Api, settings: Settings, ann: Account, bob: Account
) -> None:
    draft = api.create_post(ann)
    error = refused(
        api, settings, ops.LIKE_POST, {"input": {"postId": draft["id"]}}, token=ann.token
    )
    assert error["extensions"] == {"code": "BUSINESS_RULE", "reason": "POST_NOT_PUBLISHED"}
    error = refused(
        api, settings, ops.LIKE_POST, {"input": {"postId": draft["id"]}}, token=bob.token
    )
    assert error["extensions"] == {"code": "NOT_FOUND"}


def test_unliking_what_was_not_liked_breaks_a_rule(
    api: Api, settings: Settings, ann: Account, bob: Account
) -> None:
    post = api.published_post(ann)
    error = refused(
        api, settings, ops.UNLIKE_POST, {"input": {"postId": post["id"]}}, token=bob.token
    )
    assert error["extensions"] == {"code": "BUSINESS_RULE", "reason": "NOT_LIKED"}


def test_liking_needs_a_token_and_an_existing_post(
    api: Api, settings: Settings, ann: Account
) -> None:
    post = api.published_post(ann)
    anonymous = refused(api, settings, ops.LIKE_POST, {"input": {"postId": post["id"]}})
    assert anonymous["extensions"]["code"] == "UNAUTHENTICATED"
    nothing = {"input": {"postId": str(uuid.uuid4())}}
    missing = refused(api, settings, ops.LIKE_POST, nothing, token=ann.token)
    assert missing["extensions"]["code"] == "NOT_FOUND"


def test_a_like_with_a_stale_expected_version_is_a_conflict(
    api: Api, settings: Settings, ann: Account, bob: Account
) -> None:
    post = api.published_post(ann)
    guard = {"postId": post["id"], "expectedVersion": 1}
    error = refused(api, settings, ops.LIKE_POST, {"input": guard}, token=bob.token)
    assert error["extensions"] == {"code": "CONFLICT", "currentVersion": 2}
    assert error["message"] == f"post {post['id']} is at version 2, not 1"


def test_commenting_on_a_draft_breaks_a_rule_for_its_author_and_is_not_found_for_others(
    api: Api, settings: Settings, ann: Account, bob: Account
) -> None:
    draft = api.create_post(ann)
    variables = {"input": {"postId": draft["id"], "body": "First!"}}
    error = refused(api, settings, ops.ADD_COMMENT, variables, token=ann.token)
    assert error["extensions"] == {"code": "BUSINESS_RULE", "reason": "POST_NOT_PUBLISHED"}
    error = refused(api, settings, ops.ADD_COMMENT, variables, token=bob.token)
    assert error["extensions"] == {"code": "NOT_FOUND"}


@pytest.mark.parametrize("body", ["", "   ", "x" * 5001])
def test_a_comment_body_must_be_1_to_5000_characters(
    api: Api, settings: Settings, ann: Account, body: str
) -> None:
    post = api.published_post(ann)
    variables = {"input": {"postId": post["id"], "body": body}}
    error = refused(api, settings, ops.ADD_COMMENT, variables, token=ann.token)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "body"}


def test_counts_and_top_comments_follow_adds_and_deletes(
    api: Api, ann: Account, bob: Account
) -> None:
    post = api.published_post(ann)
    added = [api.comment(bob if i % 2 else ann, post["id"], f"Comment {i}") for i in range(5)]
    assert added[-1]["post"]["commentCount"] == 5
    assert added[0]["comment"]["author"]["name"] == "Ann"

    shown = engagement(api, post["id"])
    assert shown["commentCount"] == 5
    assert [c["body"] for c in shown["topComments"]] == ["Comment 4", "Comment 3", "Comment 2"]

    deleted = api.ok(
        ops.DELETE_COMMENT, {"input": {"commentId": added[4]["commentId"]}}, token=ann.token
    )
    assert deleted["deleteComment"]["post"]["commentCount"] == 4
    shown = engagement(api, post["id"])
    assert [c["body"] for c in shown["topComments"]] == ["Comment 3", "Comment 2", "Comment 1"]
    assert shown["comments"]["totalCount"] == 4


COMMENT_POSITIONS = """
query($id: ID!) {
  post(id: $id) { topComments { id position } comments { edges { node { id position } } } }
}"""
ADD_COMMENT_POSITION = """
mutation($input: AddCommentInput!) {
  addComment(input: $input) { position comment { id position } }
}"""


def test_a_comment_carries_the_position_that_added_it_wherever_it_shows(
    api: Api, ann: Account, bob: Account
) -> None:
    """What commentAdded(after:) resumes from: a client keeps the largest it received."""
    post = api.published_post(ann)
    added = [
        api.ok(
            ADD_COMMENT_POSITION,
            {"input": {"postId": post["id"], "body": f"Comment {i}"}},
            token=bob.token,
        )["addComment"]
        for i in range(2)
    ]
    expected = [{"id": a["comment"]["id"], "position": int(a["position"])} for a in added]
    assert [a["comment"] for a in added] == expected
    shown = api.ok(COMMENT_POSITIONS, {"id": post["id"]})["post"]
    assert [edge["node"] for edge in shown["comments"]["edges"]] == expected
    assert shown["topComments"] == expected[::-1]


def test_comments_page_oldest_first(api: Api, ann: Account) -> None:
    post = api.published_post(ann)
    for i in range(5):
        api.comment(ann, post["id"], f"Comment {i}")
    first = engagement(api, post["id"], first=2)["comments"]
    assert [e["node"]["body"] for e in first["edges"]] == ["Comment 0", "Comment 1"]
    rest = engagement(api, post["id"], first=10, after=first["pageInfo"]["endCursor"])["comments"]
    assert [e["node"]["body"] for e in rest["edges"]] == ["Comment 2", "Comment 3", "Comment 4"]
    assert rest["pageInfo"]["hasNextPage"] is False
    error = api.error(ops.POST_ENGAGEMENT, {"id": post["id"], "after": "garbage"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_comment_may_be_deleted_by_its_author_and_the_posts_author_only(
    api: Api, settings: Settings, ann: Account, bob: Account
) -> None:
    post = api.published_post(ann)
    first, second = (api.comment(bob, post["id"], body)["commentId"] for body in ("A", "B"))
    mallory = api.register("Mallory")
    error = refused(
        api, settings, ops.DELETE_COMMENT, {"input": {"commentId": first}}, token=mallory.token
    )
    assert error["extensions"] == {"code": "FORBIDDEN"}
    api.ok(ops.DELETE_COMMENT, {"input": {"commentId": first}}, token=bob.token)
    api.ok(ops.DELETE_COMMENT, {"input": {"commentId": second}}, token=ann.token)
    gone = refused(
        api, settings, ops.DELETE_COMMENT, {"input": {"commentId": first}}, token=bob.token
    )
    assert gone["extensions"] == {"code": "NOT_FOUND"}
    assert engagement(api, post["id"])["commentCount"] == 0


DELETE_NAMING_IT = """
mutation($input: DeleteCommentInput!) {
  deleteComment(input: $input) { postId deletedCommentId }
}"""


def test_deleting_a_comment_names_it_for_client_caches(api: Api, ann: Account) -> None:
    """Nothing in the payload named the deleted comment: Apollo's cache kept it in the
    post's `comments`, and Relay's @deleteRecord and @deleteEdge had no id to use."""
    post = api.published_post(ann)
    added = api.comment(ann, post["id"], "Soon gone")
    shown = engagement(api, post["id"])["comments"]["edges"][0]["node"]["id"]
    assert shown == added["commentId"]
    deleting = {"input": {"commentId": added["commentId"], "commandId": str(uuid.uuid4())}}
    deleted = api.ok(DELETE_NAMING_IT, deleting, token=ann.token)["deleteComment"]
    assert deleted == {"postId": post["id"], "deletedCommentId": shown}
    replayed = api.ok(DELETE_NAMING_IT, deleting, token=ann.token)["deleteComment"]
    assert replayed == deleted  # the commandId's original outcome


def test_no_other_mutation_names_a_deleted_comment(api: Api, ann: Account) -> None:
    post = {"input": {"postId": api.create_post(ann)["id"]}}
    answers = [
        api.ok(
            f"mutation($input: PostCommandInput!) {{ {name}(input: $input) "
            "{ deletedCommentId } }",
            post,
            token=ann.token,
        )[name]
        for name in ("publishPost", "likePost", "unlikePost", "archivePost")
    ]
    assert answers == [{"deletedCommentId": None}] * 4


def test_popular_posts_rank_by_likes_with_ties_newest_first(api: Api, ann: Account) -> None:
    readers = [api.register(f"Reader {i}") for i in range(3)]
    old, middle, new = (api.published_post(ann, title) for title in ("Old", "Middle", "New"))
    for reader in readers[:2]:
        api.ok(ops.LIKE_POST, {"input": {"postId": middle["id"]}}, token=reader.token)
    api.ok(ops.LIKE_POST, {"input": {"postId": old["id"]}}, token=readers[0].token)
    api.ok(ops.LIKE_POST, {"input": {"postId": new["id"]}}, token=readers[1].token)
    popular = api.ok(ops.POPULAR, {"first": 10})["popularPosts"]
    assert [(p["title"], p["likeCount"]) for p in popular] == [
        ("Middle", 2),
        ("New", 1),
        ("Old", 1),
    ]
    api.ok(ops.UNLIKE_POST, {"input": {"postId": middle["id"]}}, token=readers[0].token)
    api.ok(ops.UNLIKE_POST, {"input": {"postId": middle["id"]}}, token=readers[1].token)
    popular = api.ok(ops.POPULAR, {"first": 2})["popularPosts"]
    assert [p["title"] for p in popular] == ["New", "Old"]
    assert api.error(ops.POPULAR, {"first": 101})["extensions"]["code"] == "BAD_USER_INPUT"


DELETE_WITH_POST = """mutation($c: ID!) {
  deleteComment(input: {commentId: $c}) { postId ...Shown }
}
fragment Shown on PostPayload { post { title } }"""
DELETE_WITHOUT_POST = """mutation($c: ID!) {
  deleteComment(input: {commentId: $c}) { position postId }
}"""


def test_a_reader_deleting_a_comment_on_an_archived_post_is_never_told_failure_after_the_write(
    api: Api, settings: Settings, ann: Account, bob: Account
) -> None:
    """Bob's own comment on a post Ann archived since: his answer cannot show the post
    (`post` is non-null and hidden from him), so it is refused unwritten; without it,
    the deletion runs. It had been committed, then answered NOT_FOUND."""
    post = api.published_post(ann)
    comment = api.comment(bob, post["id"], "Mine")["commentId"]
    api.ok(ops.ARCHIVE_POST, {"input": {"postId": post["id"]}}, token=ann.token)
    error = refused(api, settings, DELETE_WITH_POST, {"c": comment}, token=bob.token)
    assert error["extensions"] == {"code": "NOT_FOUND"}
    assert "nothing was written" in error["message"]
    deleted = api.ok(DELETE_WITHOUT_POST, {"c": comment}, token=bob.token)["deleteComment"]
    assert deleted["postId"] == post["id"]
    seen = {"X-Consistent-With": deleted["position"]}
    after = api.ok(ops.POST_ENGAGEMENT, {"id": post["id"]}, token=ann.token, headers=seen)
    assert after["post"]["commentCount"] == 0


async def test_a_post_hidden_by_the_time_the_write_is_read_says_the_write_was_committed() -> None:
    """A post archived while a like or a comment was written: `post` is non-null, so the
    answer is an error, and it says the command was committed, at which position."""
    reads = SimpleNamespace(post=AsyncMock(return_value=None))
    context = SimpleNamespace(settled=AsyncMock(return_value=None), reads=reads, viewer_id="bob")
    with pytest.raises(HiddenPost) as hidden:
        await settled_post(cast(Any, SimpleNamespace(context=context)), "p1", "42")
    assert code_and_details(hidden.value) == ("NOT_FOUND", {"position": "42"})
    assert "committed at position 42" in str(hidden.value)
