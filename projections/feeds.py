"""The feeds projection: sorted sets of post ids for every list the API pages through.

Scores are times in microseconds, so a cursor (score, id) stays valid while new
posts arrive at the head of a list.
"""

from __future__ import annotations

from domain.events import PostArchived, PostCreated, PostPublished, PostUpdated
from domain.ports import RecordedEvent
from projections.projection import Projection, micros
from projections.tx import Tx


def on_post_created(e: PostCreated, _: RecordedEvent, tx: Tx) -> None:
    tx.pipe.zadd(tx.keys.by_author_with_drafts(e.author_id), {e.post_id: micros(e.created_at)})
    _retag(tx, e.post_id, e.tags)


def on_post_updated(e: PostUpdated, _: RecordedEvent, tx: Tx) -> None:
    _retag(tx, e.post_id, e.tags)


def on_post_published(e: PostPublished, _: RecordedEvent, tx: Tx) -> None:
    score = micros(e.published_at)
    tx.pipe.zadd(tx.keys.recent(), {e.post_id: score})
    tx.pipe.zadd(tx.keys.by_author(e.author_id), {e.post_id: score})
    tx.pipe.zadd(tx.keys.by_author_with_drafts(e.author_id), {e.post_id: score})
    tx.run(
        tx.scripts.list_under_terms,
        [tx.keys.post_tags(e.post_id)],
        [tx.keys.tag_prefix(), e.post_id, score],
    )


def on_post_archived(e: PostArchived, _: RecordedEvent, tx: Tx) -> None:
    tx.pipe.zrem(tx.keys.recent(), e.post_id)
    tx.pipe.zrem(tx.keys.by_author(e.author_id), e.post_id)
    tx.pipe.zrem(tx.keys.by_author_with_drafts(e.author_id), e.post_id)
    tx.run(tx.scripts.list_under_terms, [tx.keys.post_tags(e.post_id)], [tx.keys.tag_prefix(), e.post_id])
    tx.pipe.delete(tx.keys.post_tags(e.post_id))


def _retag(tx: Tx, post_id: str, tags: tuple[str, ...]) -> None:
    """Records the post's tags; a published post also moves between the tag lists."""
    tx.run(
        tx.scripts.retag,
        [tx.keys.post_tags(post_id), tx.keys.recent()],
        [tx.keys.tag_prefix(), post_id, *tags],
    )


PROJECTION = Projection(
    "feeds",
    {
        PostCreated: on_post_created,
        PostUpdated: on_post_updated,
        PostPublished: on_post_published,
        PostArchived: on_post_archived,
    },
)
