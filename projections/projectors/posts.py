"""The posts projection: one hash per post holding everything a post shows, precomputed.

The hash carries the author's current name and avatar, the comment and like
counts and the three newest comments, so showing a post, or a page of twenty,
needs no join and no count. Comments are hashes of their own, listed per post;
likers are a set per post, so likedByViewer is one SISMEMBER.
"""

from __future__ import annotations

import orjson

from domain.events import (
    CommentAdded,
    CommentDeleted,
    PostArchived,
    PostCreated,
    PostLiked,
    PostPublished,
    PostUnliked,
    PostUpdated,
    ProfileUpdated,
    UserRegistered,
)
from domain.ports import RecordedEvent
from projections.projectors.projection import Projection, micros
from projections.projectors.tx import Tx

TOP_COMMENTS = 3


def on_user_registered(e: UserRegistered, _: RecordedEvent, tx: Tx) -> None:
    tx.hset(tx.keys.author(e.user_id), _author_fields(e.name, e.avatar_url))
    if tx.authors is not None:
        tx.authors[e.user_id] = (e.name, e.avatar_url or None)


def on_profile_updated(e: ProfileUpdated, at: RecordedEvent, tx: Tx) -> None:
    """The script first, then the author's hash: it compares the name and avatar the
    posts show with the new ones, and leaves everything as it is when they are equal."""
    author = tx.keys.author(e.user_id)
    tx.run(
        tx.scripts.author_renamed,
        [
            tx.keys.author_post_ids(e.user_id),
            tx.keys.author_comment_ids(e.user_id),
            tx.keys.post_changes(),
            author,
        ],
        [
            tx.keys.post_prefix(),
            tx.keys.comment_prefix(),
            tx.keys.COMMENT_IDS_SUFFIX,
            TOP_COMMENTS,
            e.name,
            e.avatar_url or "",
            tx.keys.post_changed_channel("") if tx.notices else "",
            tx.keys.posts_changed_channel(),
            tx.position,
            tx.event_position,
            "1" if tx.late else "",
        ],
    )
    tx.hset(author, _author_fields(e.name, e.avatar_url))
    if e.avatar_url is None:
        tx.pipe.hdel(author, "avatarUrl")
    if tx.authors is not None:  # as the commands above leave the hash ("" keeps the avatar)
        kept = tx.authors.get(e.user_id, ("", None))[1] if e.avatar_url == "" else None
        tx.authors[e.user_id] = (e.name, e.avatar_url or kept)


def on_post_created(e: PostCreated, at: RecordedEvent, tx: Tx) -> None:
    _hset_with_author(
        tx,
        tx.keys.post(e.post_id),
        e.author_id,
        {
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
        },
    )
    tx.pipe.sadd(tx.keys.author_post_ids(e.author_id), e.post_id)
    _changed(tx, e.post_id, at)


def on_post_updated(e: PostUpdated, at: RecordedEvent, tx: Tx) -> None:
    tx.hset(
        tx.keys.post(e.post_id),
        {
            "version": at.version,
            "title": e.title,
            "content": e.content,
            "tags": orjson.dumps(e.tags).decode(),
            "updatedAt": e.updated_at.isoformat(),
        },
    )
    _changed(tx, e.post_id, at)


def on_post_published(e: PostPublished, at: RecordedEvent, tx: Tx) -> None:
    tx.hset(
        tx.keys.post(e.post_id),
        {
            "version": at.version,
            "status": "PUBLISHED",
            "publishedAt": e.published_at.isoformat(),
            "updatedAt": e.published_at.isoformat(),
            # With archivedPosition: whether a feed subscriber may hold the post in its
            # list, and so is to be told of its archiving (projections/live/read_models.py).
            "publishedPosition": at.position,
        },
    )
    _changed(tx, e.post_id, at)


def on_post_archived(e: PostArchived, at: RecordedEvent, tx: Tx) -> None:
    tx.hset(
        tx.keys.post(e.post_id),
        {
            "version": at.version,
            "status": "ARCHIVED",
            "updatedAt": e.archived_at.isoformat(),
            # What the feed tells the archiving by from later changes of an archived post
            # (projections/live/read_models.py), which it must not show.
            "archivedPosition": at.position,
        },
    )
    _changed(tx, e.post_id, at)


def on_post_liked(e: PostLiked, at: RecordedEvent, tx: Tx) -> None:
    tx.pipe.sadd(tx.keys.post_likers(e.post_id), e.user_id)
    tx.pipe.hincrby(tx.keys.post(e.post_id), "likeCount", 1)
    _changed(tx, e.post_id, at)


def on_post_unliked(e: PostUnliked, at: RecordedEvent, tx: Tx) -> None:
    tx.pipe.srem(tx.keys.post_likers(e.post_id), e.user_id)
    tx.pipe.hincrby(tx.keys.post(e.post_id), "likeCount", -1)
    _changed(tx, e.post_id, at)


def on_comment_added(e: CommentAdded, at: RecordedEvent, tx: Tx) -> None:
    _hset_with_author(
        tx,
        tx.keys.comment(e.comment_id),
        e.author_id,
        {
            "id": e.comment_id,
            "postId": e.post_id,
            "authorId": e.author_id,
            "body": e.body,
            "createdAt": e.created_at.isoformat(),
            "position": at.position,
        },
    )
    tx.pipe.zadd(tx.keys.post_comment_ids(e.post_id), {e.comment_id: micros(e.created_at)})
    tx.pipe.sadd(tx.keys.author_comment_ids(e.author_id), e.comment_id)
    tx.pipe.hincrby(tx.keys.post(e.post_id), "commentCount", 1)
    _refresh_top_comments(tx, e.post_id)
    _changed(tx, e.post_id, at)
    tx.comment_added(e.post_id, e.comment_id)


def on_comment_deleted(e: CommentDeleted, at: RecordedEvent, tx: Tx) -> None:
    tx.pipe.delete(tx.keys.comment(e.comment_id))
    tx.pipe.zrem(tx.keys.post_comment_ids(e.post_id), e.comment_id)
    tx.pipe.srem(tx.keys.author_comment_ids(e.author_id), e.comment_id)
    tx.pipe.zrem(tx.keys.comment_additions(e.post_id), e.comment_id)
    tx.pipe.hincrby(tx.keys.post(e.post_id), "commentCount", -1)
    _refresh_top_comments(tx, e.post_id)
    _changed(tx, e.post_id, at)


def _changed(tx: Tx, post_id: str, at: RecordedEvent) -> None:
    """Records in the post's hash the log position it now reflects (the position of the
    newest event that changed it: the same whichever batch applies it, so a replay
    matches), and tells live subscribers."""
    tx.pipe.hset(tx.keys.post(post_id), "position", at.position)
    tx.post_changed(post_id)


def _hset_with_author(tx: Tx, key: str, author_id: str, fields: dict[str, str | int]) -> None:
    """HSET of `fields` and of the author's current name and avatar (none: no avatar
    field). A script reads them from the author's hash, unless the batch knows them
    (Tx.authors): then plain commands write the same, at a tenth of the script's Redis
    CPU (18 µs a call, the largest share of a rebuild's)."""
    shown = tx.authors.get(author_id) if tx.authors is not None else None
    if shown is None:
        tx.run(
            tx.scripts.hset_with_author,
            [key, tx.keys.author(author_id)],
            [item for pair in fields.items() for item in pair],
        )
        return
    name, avatar_url = shown
    fields["authorName"] = name
    if avatar_url is not None:
        fields["authorAvatarUrl"] = avatar_url
    tx.hset(key, fields)
    if avatar_url is None:
        tx.pipe.hdel(key, "authorAvatarUrl")


def _refresh_top_comments(tx: Tx, post_id: str) -> None:
    """Once per batch and post, after the batch's other writes (Tx.recompute)."""
    tx.recompute(
        tx.scripts.refresh_top_comments,
        [tx.keys.post(post_id), tx.keys.post_comment_ids(post_id)],
        [tx.keys.comment_prefix(), TOP_COMMENTS],
    )


def _author_fields(name: str, avatar_url: str | None) -> dict[str, str]:
    return {"name": name} | ({"avatarUrl": avatar_url} if avatar_url else {})


PROJECTION = (
    Projection("posts")
    .on(UserRegistered, on_user_registered)
    .on(ProfileUpdated, on_profile_updated)
    .on(PostCreated, on_post_created)
    .on(PostUpdated, on_post_updated)
    .on(PostPublished, on_post_published)
    .on(PostArchived, on_post_archived)
    .on(PostLiked, on_post_liked)
    .on(PostUnliked, on_post_unliked)
    .on(CommentAdded, on_comment_added)
    .on(CommentDeleted, on_comment_deleted)
)
