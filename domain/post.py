"""The Post aggregate: a post's text and its life from draft to published to archived."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from domain import rules
from domain.errors import BusinessRuleViolation, Forbidden
from domain.events import Event, PostArchived, PostCreated, PostPublished, PostUpdated
from domain.replay import replay


class PostStatus(enum.StrEnum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    ARCHIVED = "ARCHIVED"


@dataclass(frozen=True)
class Post:
    id: str
    author_id: str
    title: str
    content: str
    tags: tuple[str, ...]
    status: PostStatus

    @staticmethod
    def create(
        post_id: str,
        author_id: str,
        title: str,
        content: str,
        tags: tuple[str, ...],
        now: datetime,
    ) -> PostCreated:
        return PostCreated(
            post_id=post_id,
            author_id=author_id,
            title=rules.title(title),
            content=rules.content(content),
            tags=rules.tags(tags),
            created_at=now,
        )

    def update(
        self,
        actor_id: str,
        title: str | None,
        content: str | None,
        tags: tuple[str, ...] | None,
        now: datetime,
    ) -> PostUpdated:
        self.require_author(actor_id, "edit")
        if self.status is PostStatus.ARCHIVED:
            raise BusinessRuleViolation("POST_ARCHIVED", "an archived post cannot be edited")
        updated = PostUpdated(
            post_id=self.id,
            author_id=self.author_id,
            title=self.title if title is None else rules.title(title),
            content=self.content if content is None else rules.content(content),
            tags=self.tags if tags is None else rules.tags(tags),
            updated_at=now,
        )
        if (updated.title, updated.content, updated.tags) == (self.title, self.content, self.tags):
            # As publishing a published post is refused: recorded, an unchanged "Save"
            # moved the version and made another tab's real edit a CONFLICT.
            raise BusinessRuleViolation(
                "NOTHING_CHANGED", "the post already has this title, content and tags"
            )
        return updated

    def publish(self, actor_id: str, now: datetime) -> PostPublished:
        self.require_author(actor_id, "publish")
        if self.status is PostStatus.PUBLISHED:
            raise BusinessRuleViolation("ALREADY_PUBLISHED", "the post is already published")
        if self.status is PostStatus.ARCHIVED:
            raise BusinessRuleViolation("POST_ARCHIVED", "an archived post cannot be published")
        return PostPublished(post_id=self.id, author_id=self.author_id, published_at=now)

    def archive(self, actor_id: str, now: datetime) -> PostArchived:
        self.require_author(actor_id, "archive")
        if self.status is PostStatus.ARCHIVED:
            raise BusinessRuleViolation("ALREADY_ARCHIVED", "the post is already archived")
        return PostArchived(
            post_id=self.id,
            author_id=self.author_id,
            archived_at=now,
            was_published=self.status is PostStatus.PUBLISHED,
        )

    def visible_to(self, actor_id: str) -> bool:
        """Drafts and archived posts are their author's alone, on the write side as on reads."""
        return self.status is PostStatus.PUBLISHED or actor_id == self.author_id

    def require_author(self, actor_id: str, action: str) -> None:
        if actor_id != self.author_id:
            raise Forbidden(f"only the post's author may {action} it")

    def evolve(self, event: Event) -> Post:
        match event:
            case PostUpdated():
                return replace(self, title=event.title, content=event.content, tags=event.tags)
            case PostPublished():
                return replace(self, status=PostStatus.PUBLISHED)
            case PostArchived():
                return replace(self, status=PostStatus.ARCHIVED)
        raise TypeError(f"a post does not take {type(event).__name__}")

    @staticmethod
    def from_history(events: list[Event]) -> Post | None:
        """Replays a stream; None when the post was never created."""
        return replay(events, PostCreated, Post._created)

    @staticmethod
    def _created(first: PostCreated) -> Post:
        return Post(
            first.post_id, first.author_id, first.title, first.content, first.tags, PostStatus.DRAFT
        )
