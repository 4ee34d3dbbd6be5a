"""The Like aggregate: one reader's like of one post, given and taken back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.errors import BusinessRuleViolation
from domain.events import Event, PostLiked, PostUnliked
from domain.post import Post, PostStatus
from domain.replay import evolved


@dataclass(frozen=True)
class Like:
    liked: bool = False

    def like(self, post: Post, user_id: str, now: datetime) -> PostLiked:
        if post.status is not PostStatus.PUBLISHED:
            raise BusinessRuleViolation("POST_NOT_PUBLISHED", "only a published post can be liked")
        if self.liked:
            raise BusinessRuleViolation("ALREADY_LIKED", "the post is already liked")
        return PostLiked(post_id=post.id, user_id=user_id, liked_at=now)

    def unlike(self, post: Post, user_id: str, now: datetime) -> PostUnliked:
        if not self.liked:
            raise BusinessRuleViolation("NOT_LIKED", "the post is not liked")
        return PostUnliked(post_id=post.id, user_id=user_id, unliked_at=now)

    def evolve(self, event: Event) -> Like:
        match event:
            case PostLiked():
                return Like(liked=True)
            case PostUnliked():
                return Like(liked=False)
        raise TypeError(f"a like does not take {type(event).__name__}")

    @staticmethod
    def from_history(events: list[Event]) -> Like:
        """Replays a stream; an empty one is a like never given."""
        return evolved(Like(), events)
