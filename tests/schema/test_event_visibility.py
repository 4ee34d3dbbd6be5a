"""recentEvents through the real app and Redis: a post's events, its likes' and comments'
included, are its author's; others see them from its publication on, while it is
published. Drafts and archived posts never show, not even by id, to anyone else."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import operations as ops
from tests.support.api import Account, Api

DELETE_COMMENT = """
mutation($input: DeleteCommentInput!) { deleteComment(input: $input) { position } }"""
EVENTS = "query($first: Int) { recentEvents(first: $first) { position type streamId version } }"


@pytest.fixture
def ann(api: Api) -> Account:
    return api.register("Ann")


@pytest.fixture
def bob(api: Api) -> Account:
    return api.register("Bob")


def events(
    api: Api, reader: Account | None, after: int, first: int = 100
) -> tuple[list[dict[str, Any]], str]:
    """What `reader` (None: anonymous) is shown once the log's position `after` is
    applied, and the whole answer as text."""
    body = api.call(
        EVENTS,
        {"first": first},
        token=reader.token if reader else None,
        headers={"X-Consistent-With": str(after)},
    )
    assert "errors" not in body, body
    shown: list[dict[str, Any]] = body["data"]["recentEvents"]
    return shown, json.dumps(body)


def of_post(shown: list[dict[str, Any]], post_id: str) -> list[str]:
    """The types of the listed events of the post's stream and its likes' (their stream
    ids name it), newest first."""
    return [event["type"] for event in shown if post_id in event["streamId"]]


def draft(api: Api, author: Account) -> tuple[str, int]:
    """A post created and edited once, never published: its id and the edit's position."""
    post = api.create_post(author, "Secret plans")
    edit = {"input": {"postId": post["id"], "expectedVersion": 1, "title": "Secret plans, v2"}}
    position = api.ok(ops.UPDATE_POST, edit, token=author.token)["updatePost"]["position"]
    return post["id"], int(position)


def test_a_drafts_events_and_id_are_shown_to_its_author_alone(
    api: Api, ann: Account, bob: Account
) -> None:
    post_id, at = draft(api, ann)
    for stranger in (None, bob):
        shown, answer = events(api, stranger, at)
        assert post_id not in answer
        assert [event["type"] for event in shown] == ["UserRegistered", "UserRegistered"]
    shown, _ = events(api, ann, at)
    assert [(e["type"], e["version"]) for e in shown if e["streamId"] == f"post-{post_id}"] == [
        ("PostUpdated", 2),
        ("PostCreated", 1),
    ]


def test_once_published_others_see_the_post_from_its_publication_on(
    api: Api, ann: Account, bob: Account
) -> None:
    post_id, _ = draft(api, ann)
    api.publish(ann, post_id)
    api.ok(ops.LIKE_POST, {"input": {"postId": post_id}}, token=bob.token)
    at = int(api.comment(bob, post_id, "First!")["position"])

    public = ["CommentAdded", "PostLiked", "PostPublished"]
    for stranger in (None, bob):
        shown, _ = events(api, stranger, at)
        assert [e["type"] for e in shown] == [*public, "UserRegistered", "UserRegistered"]
    shown, _ = events(api, ann, at)
    drafted = ["PostUpdated", "PostCreated"]
    assert [e["type"] for e in shown] == [*public, *drafted, "UserRegistered", "UserRegistered"]


def test_an_archived_posts_events_leave_every_other_readers_list(
    api: Api, ann: Account, bob: Account
) -> None:
    post = api.published_post(ann)
    api.ok(ops.LIKE_POST, {"input": {"postId": post["id"]}}, token=bob.token)
    comment_id = api.comment(bob, post["id"], "Nice")["commentId"]
    shown, answer = events(api, None, api.register("Cy").position)
    assert post["id"] in answer and comment_id in answer  # published: everybody sees it

    api.ok(ops.ARCHIVE_POST, {"input": {"postId": post["id"]}}, token=ann.token)
    deleted = api.ok(DELETE_COMMENT, {"input": {"commentId": comment_id}}, token=bob.token)
    at = int(deleted["deleteComment"]["position"])  # his own, on a post he no longer sees
    for stranger in (None, bob):  # Bob too: his like and comment are of a post he cannot see
        shown, answer = events(api, stranger, at)
        assert post["id"] not in answer and comment_id not in answer
        assert {event["type"] for event in shown} == {"UserRegistered"}
    shown, answer = events(api, ann, at)
    assert [e["type"] for e in shown][:2] == ["CommentDeleted", "PostArchived"]
    its_own = ["PostArchived", "PostLiked", "PostPublished", "PostCreated"]
    assert of_post(shown, post["id"]) == its_own
    assert comment_id in answer


def test_a_page_of_first_n_holds_n_visible_events_read_past_hidden_ones(
    api: Api, ann: Account, bob: Account
) -> None:
    """Three users register, each followed by a draft of Ann's, then Ann writes 22 more
    drafts: the newest 22 entries, and every other one below them, are hers alone.
    Anonymous readers and signed-in ones are served by different reads: both."""
    users = []
    for number in range(3):
        users.append(api.register(f"User {number}").id)
        api.create_post(ann, f"Draft {number}")
    late = [api.create_post(ann, f"Late {number}")["id"] for number in range(22)]
    at = int(api.ok(ops.PROJECTIONS)["projections"][0]["headPosition"])
    newest_first = [f"user-{id_}" for id_ in reversed(users)]

    for stranger in (None, bob):
        shown, answer = events(api, stranger, at, first=3)
        assert [e["streamId"] for e in shown] == newest_first
        assert not any(post_id in answer for post_id in late)
        shown, _ = events(api, stranger, at, first=100)
        registered = [f"user-{bob.id}", f"user-{ann.id}"]  # the fixtures, Ann first
        assert [e["streamId"] for e in shown] == [*newest_first, *registered]
    shown, _ = events(api, ann, at, first=3)
    assert [e["streamId"] for e in shown] == [f"post-{post_id}" for post_id in late[:-4:-1]]
    for reader in (None, bob, ann):
        assert events(api, reader, at, first=0)[0] == []


def test_a_likes_stream_names_its_user_to_that_user_alone(
    api: Api, ann: Account, bob: Account
) -> None:
    """A like's stream is `like-<post>-<user>`: listed as it is, it told everybody who
    liked which post, which the API shows nobody else (a post has a likeCount and a
    likedByViewer, no likers). Others, the post's author too, see whose post it is."""
    post = api.published_post(ann)["id"]
    api.ok(ops.LIKE_POST, {"input": {"postId": post}}, token=bob.token)
    unliked = api.ok(ops.UNLIKE_POST, {"input": {"postId": post}}, token=bob.token)
    at = int(unliked["unlikePost"]["position"])

    def likes(reader: Account | None) -> list[tuple[str, str, int]]:
        shown, _ = events(api, reader, at)
        kinds = ("PostLiked", "PostUnliked")
        return [(e["type"], e["streamId"], e["version"]) for e in shown if e["type"] in kinds]

    assert likes(bob) == [
        ("PostUnliked", f"like-{post}-{bob.id}", 2),
        ("PostLiked", f"like-{post}-{bob.id}", 1),
    ]
    for other in (None, ann, api.register("Cy")):
        assert likes(other) == [
            ("PostUnliked", f"like-{post}", 2),
            ("PostLiked", f"like-{post}", 1),
        ]
