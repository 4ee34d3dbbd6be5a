"""The posts projection: one hash per post, everything a post page shows, author name included."""

from __future__ import annotations

import orjson

from domain.events import (
    PostArchived,
    PostCreated,
    PostPublished,
    PostUpdated,
    ProfileUpdated,
    UserRegistered,
)
from domain.ports import RecordedEvent
from projections.projection import Projection
from projections.tx import Tx


def on_user_registered(e: UserRegistered, _: RecordedEvent, tx: Tx) -> None:
    tx.pipe.hset(tx.keys.author(e.user_id), mapping=_author_fields(e.name, e.avatar_url))


def on_profile_updated(e: ProfileUpdated, _: RecordedEvent, tx: Tx) -> None:
    """Renaming is the price of denormalizing: every post of the author is rewritten here,
    once, so that no read ever has to join."""
    author = tx.keys.author(e.user_id)
    tx.pipe.hset(author, mapping=_author_fields(e.name, e.avatar_url))
    if e.avatar_url is None:
        tx.pipe.hdel(author, "avatarUrl")
    tx.run(
        tx.scripts.set_on_members,
        [tx.keys.author_post_ids(e.user_id)],
        [tx.keys.post_prefix(), "authorName", e.name, "authorAvatarUrl", e.avatar_url or ""],
    )


def on_post_created(e: PostCreated, at: RecordedEvent, tx: Tx) -> None:
    fields = {
        "id": e.post_id,
        "version": at.version,
        "authorId": e.author_id,
        "title": e.title,
        "content": e.content,
        "tags": orjson.dumps(e.tags).decode(),
        "status": "DRAFT",
        "createdAt": e.created_at.isoformat(),
        "updatedAt": e.created_at.isoformat(),
        "commentCount": 0,
        "likeCount": 0,
        "topComments": "[]",
    }
    tx.run(
        tx.scripts.hset_with_author,
        [tx.keys.post(e.post_id), tx.keys.author(e.author_id)],
        [item for pair in fields.items() for item in pair],
    )
    tx.pipe.sadd(tx.keys.author_post_ids(e.author_id), e.post_id)


def on_post_updated(e: PostUpdated, at: RecordedEvent, tx: Tx) -> None:
    tx.pipe.hset(
        tx.keys.post(e.post_id),
        mapping={
            "version": at.version,
            "title": e.title,
            "content": e.content,
            "tags": orjson.dumps(e.tags).decode(),
            "updatedAt": e.updated_at.isoformat(),
        },
    )


def on_post_published(e: PostPublished, at: RecordedEvent, tx: Tx) -> None:
    tx.pipe.hset(
        tx.keys.post(e.post_id),
        mapping={
            "version": at.version,
            "status": "PUBLISHED",
            "publishedAt": e.published_at.isoformat(),
            "updatedAt": e.published_at.isoformat(),
        },
    )


def on_post_archived(e: PostArchived, at: RecordedEvent, tx: Tx) -> None:
    tx.pipe.hset(
        tx.keys.post(e.post_id),
        mapping={
            "version": at.version,
            "status": "ARCHIVED",
            "updatedAt": e.archived_at.isoformat(),
        },
    )


def _author_fields(name: str, avatar_url: str | None) -> dict[str, str]:
    return {"name": name} | ({"avatarUrl": avatar_url} if avatar_url else {})


PROJECTION = Projection(
    "posts",
    {
        UserRegistered: on_user_registered,
        ProfileUpdated: on_profile_updated,
        PostCreated: on_post_created,
        PostUpdated: on_post_updated,
        PostPublished: on_post_published,
        PostArchived: on_post_archived,
    },
)
