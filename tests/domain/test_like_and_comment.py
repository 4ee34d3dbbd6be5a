"""Likes and comments: given a post and its history, when a reader acts, then events or refusal."""

from datetime import UTC, datetime

import pytest

from domain.comment import Comment
from domain.errors import BusinessRuleViolation, Forbidden, InvalidInput, NotFound
from domain.events import CommentAdded, CommentDeleted, PostLiked, PostUnliked
from domain.like import Like
from domain.post import Post, PostStatus

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def post(status: PostStatus = PostStatus.PUBLISHED) -> Post:
    return Post("p1", "ann", "Title", "Body", (), status)


def test_a_reader_likes_a_published_post() -> None:
    assert Like().like(post(), "bob", NOW) == PostLiked("p1", "bob", NOW)


def test_liking_twice_is_refused() -> None:
    with pytest.raises(BusinessRuleViolation) as refused:
        Like.from_history([PostLiked("p1", "bob", NOW)]).like(post(), "bob", NOW)
    assert refused.value.reason == "ALREADY_LIKED"


@pytest.mark.parametrize("status", [PostStatus.DRAFT, PostStatus.ARCHIVED])
def test_liking_a_post_that_is_not_published_is_refused(status: PostStatus) -> None:
    with pytest.raises(BusinessRuleViolation) as refused:
        Like().like(post(status), "bob", NOW)
    assert refused.value.reason == "POST_NOT_PUBLISHED"


def test_unliking_what_you_did_not_like_is_refused() -> None:
    with pytest.raises(BusinessRuleViolation) as refused:
        Like().unlike(post(), "bob", NOW)
    assert refused.value.reason == "NOT_LIKED"


def test_a_like_can_be_taken_back_and_given_again() -> None:
    history = [PostLiked("p1", "bob", NOW), PostUnliked("p1", "bob", NOW)]
    assert Like.from_history(history).like(post(), "bob", NOW) == PostLiked("p1", "bob", NOW)


def test_a_comment_on_a_published_post_is_trimmed() -> None:
    event = Comment.add("c1", post(), "bob", "  Nice post  ", NOW)
    assert event == CommentAdded("c1", "p1", "bob", "Nice post", NOW)


@pytest.mark.parametrize("body", ["", "   ", "x" * 5001])
def test_a_comment_body_must_be_1_to_5000_characters(body: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        Comment.add("c1", post(), "bob", body, NOW)
    assert refused.value.field == "body"


@pytest.mark.parametrize("status", [PostStatus.DRAFT, PostStatus.ARCHIVED])
def test_commenting_on_a_post_that_is_not_published_is_refused(status: PostStatus) -> None:
    with pytest.raises(BusinessRuleViolation) as refused:
        Comment.add("c1", post(status), "bob", "Hi", NOW)
    assert refused.value.reason == "POST_NOT_PUBLISHED"


@pytest.mark.parametrize("actor", ["bob", "ann"])
def test_the_comments_author_or_the_posts_author_may_delete_it(actor: str) -> None:
    comment = Comment.from_history([CommentAdded("c1", "p1", "bob", "Hi", NOW)])
    assert comment is not None
    assert comment.delete(post(), actor, NOW) == CommentDeleted("c1", "p1", "bob", actor, NOW)


def test_nobody_else_may_delete_a_comment() -> None:
    comment = Comment.from_history([CommentAdded("c1", "p1", "bob", "Hi", NOW)])
    assert comment is not None
    with pytest.raises(Forbidden):
        comment.delete(post(), "mallory", NOW)


def test_a_comment_on_a_post_archived_since_is_not_found_by_anyone_else() -> None:
    """As a missing comment is: a stranger is not told it is there. Its author may still
    delete it, and so may the post's author."""
    comment = Comment.from_history([CommentAdded("c1", "p1", "bob", "Hi", NOW)])
    assert comment is not None
    archived = post(PostStatus.ARCHIVED)
    with pytest.raises(NotFound) as refused:
        comment.delete(archived, "mallory", NOW)
    assert str(refused.value) == str(NotFound("comment", "c1"))
    for actor in ("bob", "ann"):
        assert comment.delete(archived, actor, NOW) == CommentDeleted("c1", "p1", "bob", actor, NOW)


def test_a_deleted_comment_says_so() -> None:
    history = [
        CommentAdded("c1", "p1", "bob", "Hi", NOW),
        CommentDeleted("c1", "p1", "bob", "bob", NOW),
    ]
    comment = Comment.from_history(history)
    assert comment is not None and comment.deleted
