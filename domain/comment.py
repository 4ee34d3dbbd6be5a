"""The Comment aggregate: a reader's comment on a published post, until it is deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain import rules
from domain.errors import BusinessRuleViolation, Forbidden, NotFound
from domain.events import CommentAdded, CommentDeleted, Event
from domain.post import Post, PostStatus
from domain.replay import replay


@dataclass(frozen=True)
class Comment:
    id: str
    post_id: str
    author_id: str
    deleted: bool = False

    @staticmethod
    def add(comment_id: str, post: Post, author_id: str, body: str, now: datetime) -> CommentAdded:
        if post.status is not PostStatus.PUBLISHED:
            raise BusinessRuleViolation(
                "POST_NOT_PUBLISHED", "only a published post can be commented on"
            )
        return CommentAdded(
            comment_id=comment_id,
            post_id=post.id,
            author_id=author_id,
            body=rules.comment_body(body),
            created_at=now,
        )

    def delete(self, post: Post, actor_id: str, now: datetime) -> CommentDeleted:
        """Allowed to the comment's author and to the author of the post it is on. To
        anyone else, a comment on a post they may not see (archived since) is NOT_FOUND,
        as a missing one is: FORBIDDEN told a stranger that it was still there."""
        if actor_id != self.author_id and not post.visible_to(actor_id):
            raise NotFound("comment", self.id)
        if actor_id not in (self.author_id, post.author_id):
            raise Forbidden("only the comment's author or the post's author may delete it")
        return CommentDeleted(
            comment_id=self.id,
            post_id=self.post_id,
            author_id=self.author_id,
            deleted_by=actor_id,
            deleted_at=now,
        )

    def evolve(self, event: Event) -> Comment:
        match event:
            case CommentDeleted():
                return Comment(self.id, self.post_id, self.author_id, deleted=True)
        raise TypeError(f"a comment does not take {type(event).__name__}")

    @staticmethod
    def from_history(events: list[Event]) -> Comment | None:
        """Replays a stream; None when the comment was never added."""
        return replay(
            events,
            CommentAdded,
            lambda first: Comment(first.comment_id, first.post_id, first.author_id),
        )
