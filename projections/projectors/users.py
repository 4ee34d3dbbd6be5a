"""The users projection: one hash per user, with the count of their published posts kept current."""

from __future__ import annotations

from domain.events import PostArchived, PostPublished, ProfileUpdated, UserRegistered
from domain.ports import RecordedEvent
from projections.projectors.projection import Projection
from projections.projectors.tx import Tx


def on_user_registered(e: UserRegistered, _: RecordedEvent, tx: Tx) -> None:
    fields: dict[str, str | int] = {
        "id": e.user_id,
        "name": e.name,
        "bio": e.bio,
        "joinedAt": e.registered_at.isoformat(),
        "publishedPostCount": 0,
    }
    if e.avatar_url:
        fields["avatarUrl"] = e.avatar_url
    tx.hset(tx.keys.user(e.user_id), fields)


def on_profile_updated(e: ProfileUpdated, _: RecordedEvent, tx: Tx) -> None:
    key = tx.keys.user(e.user_id)
    tx.hset(key, {"name": e.name, "bio": e.bio})
    if e.avatar_url:
        tx.pipe.hset(key, "avatarUrl", e.avatar_url)
    else:
        tx.pipe.hdel(key, "avatarUrl")


def on_post_published(e: PostPublished, _: RecordedEvent, tx: Tx) -> None:
    tx.pipe.hincrby(tx.keys.user(e.author_id), "publishedPostCount", 1)


def on_post_archived(e: PostArchived, _: RecordedEvent, tx: Tx) -> None:
    if e.was_published:
        tx.pipe.hincrby(tx.keys.user(e.author_id), "publishedPostCount", -1)


PROJECTION = (
    Projection("users")
    .on(UserRegistered, on_user_registered)
    .on(ProfileUpdated, on_profile_updated)
    .on(PostPublished, on_post_published)
    .on(PostArchived, on_post_archived)
)
