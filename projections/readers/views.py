"""What readers hand out: plain, typed snapshots of read models, decoded from Redis hashes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import orjson

from domain import streams

log = logging.getLogger(__name__)

T = TypeVar("T")


def readable(from_hash: Callable[[Mapping[str, str]], T], fields: Mapping[str, str]) -> T | None:
    """The view of a hash, or None when the hash is empty or malformed (fields missing or
    unparseable: a partial hash left by events applied while an earlier event of the same
    read model was parked). A malformed read model is left out with a warning; it never
    fails the list it is part of."""
    if not fields:
        return None
    try:
        return from_hash(fields)
    except (KeyError, ValueError, TypeError) as error:
        log.warning(
            "skipped a malformed read model (%s: %s): %s",
            type(error).__name__,
            error,
            dict(list(fields.items())[:4]),
        )
        return None


@dataclass(frozen=True)
class CommentView:
    id: str
    post_id: str
    author_id: str
    author_name: str
    author_avatar_url: str | None
    body: str
    created_at: datetime
    position: int | None = None  # the log position of the event that added it

    @staticmethod
    def from_hash(h: Mapping[str, str]) -> CommentView:
        return CommentView(
            id=h["id"],
            post_id=h["postId"],
            author_id=h["authorId"],
            author_name=h.get("authorName", ""),
            author_avatar_url=h.get("authorAvatarUrl"),
            body=h["body"],
            created_at=datetime.fromisoformat(h["createdAt"]),
            position=int(h["position"]) if "position" in h else None,
        )


@dataclass(frozen=True)
class PostView:
    id: str
    version: int
    author_id: str
    author_name: str
    author_avatar_url: str | None
    title: str
    content: str
    tags: tuple[str, ...]
    status: str
    comment_count: int
    like_count: int
    top_comments: tuple[CommentView, ...]
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    read_model_position: int | None = None
    published_position: int | None = None  # the log position of its publication
    archived_position: int | None = None  # the log position of its archiving

    @staticmethod
    def from_hash(h: Mapping[str, str]) -> PostView:
        return PostView(
            id=h["id"],
            version=int(h["version"]),
            author_id=h["authorId"],
            author_name=h.get("authorName", ""),
            author_avatar_url=h.get("authorAvatarUrl"),
            title=h["title"],
            content=h["content"],
            tags=tuple(orjson.loads(h["tags"])),
            status=h["status"],
            comment_count=int(h["commentCount"]),
            like_count=int(h["likeCount"]),
            top_comments=tuple(CommentView.from_hash(c) for c in orjson.loads(h["topComments"])),
            created_at=datetime.fromisoformat(h["createdAt"]),
            updated_at=datetime.fromisoformat(h["updatedAt"]),
            published_at=datetime.fromisoformat(h["publishedAt"]) if "publishedAt" in h else None,
            read_model_position=int(h["position"]) if "position" in h else None,
            published_position=(int(h["publishedPosition"]) if "publishedPosition" in h else None),
            archived_position=int(h["archivedPosition"]) if "archivedPosition" in h else None,
        )

    def visible_to(self, viewer_id: str | None) -> bool:
        return post_visible(self.status, self.author_id, viewer_id)


def post_visible(status: str, author_id: str, viewer_id: str | None) -> bool:
    """Drafts and archived posts are their author's alone."""
    return status == "PUBLISHED" or viewer_id == author_id


@dataclass(frozen=True)
class UserView:
    id: str
    name: str
    avatar_url: str | None
    bio: str
    joined_at: datetime
    published_post_count: int

    @staticmethod
    def from_hash(h: Mapping[str, str]) -> UserView:
        return UserView(
            id=h["id"],
            name=h["name"],
            avatar_url=h.get("avatarUrl"),
            bio=h["bio"],
            joined_at=datetime.fromisoformat(h["joinedAt"]),
            published_post_count=int(h["publishedPostCount"]),
        )


@dataclass(frozen=True)
class ProjectionStatusView:
    name: str
    position: int
    head_position: int
    parked: int = 0  # events set aside (projections/projectors/parking.py)
    parked_streams: int = 0  # streams whose later events wait behind a parked one
    # Commit time of the oldest event not applied yet, where the recent-events list has it.
    waiting_since: datetime | None = None

    @property
    def lag(self) -> int:
        return max(0, self.head_position - self.position)

    def lag_milliseconds(self, now: datetime) -> int | None:
        """How long the oldest unapplied event has waited; None when behind by more than
        the recent-events list reaches."""
        if self.lag == 0:
            return 0
        if self.waiting_since is None:
            return None
        return max(0, round((now - self.waiting_since).total_seconds() * 1000))


@dataclass(frozen=True)
class RecentEventView:
    position: int
    type: str
    stream_id: str
    version: int
    recorded_at: datetime

    @staticmethod
    def from_json(raw: str | bytes, viewer_id: str | None) -> RecentEventView:
        entry = orjson.loads(raw)
        return RecentEventView(
            position=int(entry["position"]),
            type=str(entry["type"]),
            stream_id=streams.seen_by(str(entry["streamId"]), viewer_id),
            version=int(entry["version"]),
            recorded_at=datetime.fromisoformat(entry["recordedAt"]),
        )
