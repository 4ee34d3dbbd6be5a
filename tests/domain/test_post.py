"""The Post aggregate's rules: given events, when a command, then events or a refusal."""

from datetime import UTC, datetime

import pytest

from domain.errors import BusinessRuleViolation, Forbidden, InvalidInput
from domain.events import PostArchived, PostCreated, PostPublished, PostUpdated
from domain.post import Post, PostStatus

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
AUTHOR = "ann"


def created(**overrides: object) -> PostCreated:
    fields: dict[str, object] = {
        "post_id": "p1",
        "author_id": AUTHOR,
        "title": "Title",
        "content": "Body",
        "tags": ("cqrs",),
        "created_at": NOW,
    }
    return PostCreated(**(fields | overrides))  # type: ignore[arg-type]


def given(*events: object) -> Post:
    post = Post.from_history(list(events))  # type: ignore[arg-type]
    assert post is not None
    return post


def published() -> PostPublished:
    return PostPublished(post_id="p1", author_id=AUTHOR, published_at=NOW)


def test_creating_a_post_trims_the_title_and_normalizes_tags() -> None:
    event = Post.create("p1", AUTHOR, "  Hello  ", "Body", ("CQRS", "Event-Sourcing", "cqrs"), NOW)
    assert event == created(title="Hello", tags=("cqrs", "event-sourcing"))


@pytest.mark.parametrize("title", ["", "   ", "x" * 201])
def test_a_title_must_be_1_to_200_characters_after_trimming(title: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        Post.create("p1", AUTHOR, title, "Body", (), NOW)
    assert refused.value.field == "title"


def test_a_title_of_exactly_200_characters_is_accepted() -> None:
    assert Post.create("p1", AUTHOR, "x" * 200, "", (), NOW).title == "x" * 200


def test_content_is_limited_to_100000_characters() -> None:
    Post.create("p1", AUTHOR, "T", "x" * 100_000, (), NOW)
    with pytest.raises(InvalidInput) as refused:
        Post.create("p1", AUTHOR, "T", "x" * 100_001, (), NOW)
    assert refused.value.field == "content"


@pytest.mark.parametrize(
    "tags",
    [
        tuple(f"t{i}" for i in range(11)),
        ("has space",),
        ("under_score",),
        ("x" * 33,),
        ("",),
    ],
)
def test_tags_must_be_at_most_10_of_1_to_32_lowercase_letters_digits_and_dashes(
    tags: tuple[str, ...],
) -> None:
    with pytest.raises(InvalidInput) as refused:
        Post.create("p1", AUTHOR, "T", "", tags, NOW)
    assert refused.value.field == "tags"


def test_the_author_updates_a_draft_and_unchanged_fields_are_kept() -> None:
    event = given(created()).update(AUTHOR, title="New", content=None, tags=None, now=NOW)
    assert event == PostUpdated(
        post_id="p1", author_id=AUTHOR, title="New", content="Body", tags=("cqrs",), updated_at=NOW
    )


@pytest.mark.parametrize(
    ("title", "content", "tags"),
    [(None, None, None), ("Title", "Body", ["cqrs"]), (" Title ", None, ["CQRS", "cqrs"])],
)
def test_an_update_that_changes_nothing_is_refused(
    title: str | None, content: str | None, tags: list[str] | None
) -> None:
    """Recorded, an unchanged "Save" moved the version, and another tab's real edit,
    made at the version it had read, was a CONFLICT (an outside probe)."""
    with pytest.raises(BusinessRuleViolation) as refused:
        given(created()).update(AUTHOR, title, content, None if tags is None else tuple(tags), NOW)
    assert refused.value.reason == "NOTHING_CHANGED"


@pytest.mark.parametrize("action", ["update", "publish", "archive"])
def test_only_the_author_may_change_a_post(action: str) -> None:
    post = given(created())
    with pytest.raises(Forbidden):
        if action == "update":
            post.update("bob", "New", None, None, NOW)
        else:
            getattr(post, action)("bob", NOW)


def test_publishing_a_draft_records_the_publication() -> None:
    assert given(created()).publish(AUTHOR, NOW) == published()


def test_publishing_a_published_post_is_refused() -> None:
    with pytest.raises(BusinessRuleViolation) as refused:
        given(created(), published()).publish(AUTHOR, NOW)
    assert refused.value.reason == "ALREADY_PUBLISHED"


def test_publishing_an_archived_post_is_refused() -> None:
    archived = PostArchived(post_id="p1", author_id=AUTHOR, archived_at=NOW, was_published=False)
    with pytest.raises(BusinessRuleViolation) as refused:
        given(created(), archived).publish(AUTHOR, NOW)
    assert refused.value.reason == "POST_ARCHIVED"


def test_editing_an_archived_post_is_refused() -> None:
    archived = PostArchived(post_id="p1", author_id=AUTHOR, archived_at=NOW, was_published=True)
    with pytest.raises(BusinessRuleViolation) as refused:
        given(created(), published(), archived).update(AUTHOR, "New", None, None, NOW)
    assert refused.value.reason == "POST_ARCHIVED"


def test_archiving_twice_is_refused() -> None:
    archived = PostArchived(post_id="p1", author_id=AUTHOR, archived_at=NOW, was_published=False)
    with pytest.raises(BusinessRuleViolation) as refused:
        given(created(), archived).archive(AUTHOR, NOW)
    assert refused.value.reason == "ALREADY_ARCHIVED"


def test_archiving_says_whether_the_post_had_been_published() -> None:
    assert given(created()).archive(AUTHOR, NOW).was_published is False
    assert given(created(), published()).archive(AUTHOR, NOW).was_published is True


def test_replaying_the_history_rebuilds_the_state() -> None:
    updated = PostUpdated(
        post_id="p1", author_id=AUTHOR, title="T2", content="C2", tags=(), updated_at=NOW
    )
    post = given(created(), updated, published())
    assert (post.title, post.content, post.tags, post.status) == (
        "T2",
        "C2",
        (),
        PostStatus.PUBLISHED,
    )


def test_an_empty_history_is_no_post() -> None:
    assert Post.from_history([]) is None
