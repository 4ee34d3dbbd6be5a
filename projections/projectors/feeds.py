"""The feeds projection: sorted sets of post ids for every list the API pages through.

Scores are times in microseconds, so a cursor (score, id) stays valid while new
posts arrive at the head of a list. The popular list scores likes * 2**32 plus
the position of the publication, so equal likes sort newest first; that stays
exact up to 2**21 (two million) likes on one post.
"""

from __future__ import annotations

from domain.events import (
    PostArchived,
    PostCreated,
    PostLiked,
    PostPublished,
    PostUnliked,
    PostUpdated,
)
from domain.ports import RecordedEvent
from projections.projectors.projection import Projection, micros, record_terms
from projections.projectors.tx import Tx


def on_post_created(e: PostCreated, _: RecordedEvent, tx: Tx) -> None:
    # The author's own list keeps this score for good: publishing does not move a post in
    # it, so a traversal under way neither misses nor repeats one (Keys.by_author_with_drafts).
    tx.pipe.zadd(tx.keys.by_author_with_drafts(e.author_id), {e.post_id: micros(e.created_at)})
    if e.tags:  # a new post: no tags to take back, no list it is in (see record_terms)
        record_terms(tx, tx.keys.post_tags(e.post_id), e.tags)


def on_post_updated(e: PostUpdated, _: RecordedEvent, tx: Tx) -> None:
    _retag(tx, e.post_id, e.tags)


LIKE = 2**32


def on_post_published(e: PostPublished, at: RecordedEvent, tx: Tx) -> None:
    score = micros(e.published_at)
    tx.pipe.zadd(tx.keys.popular(), {e.post_id: at.position})  # no likes yet: drafts take none
    tx.pipe.zadd(tx.keys.recent(), {e.post_id: score})
    tx.pipe.zadd(tx.keys.by_author(e.author_id), {e.post_id: score})
    tx.run(
        tx.scripts.list_under_terms,
        [tx.keys.post_tags(e.post_id)],
        [tx.keys.tag_prefix(), e.post_id, score],
    )


def on_post_archived(e: PostArchived, _: RecordedEvent, tx: Tx) -> None:
    tx.pipe.zrem(tx.keys.recent(), e.post_id)
    tx.pipe.zrem(tx.keys.popular(), e.post_id)
    tx.pipe.zrem(tx.keys.by_author(e.author_id), e.post_id)
    tx.pipe.zrem(tx.keys.by_author_with_drafts(e.author_id), e.post_id)
    tx.run(
        tx.scripts.list_under_terms,
        [tx.keys.post_tags(e.post_id)],
        [tx.keys.tag_prefix(), e.post_id],
    )
    tx.pipe.delete(tx.keys.post_tags(e.post_id))


def on_post_liked(e: PostLiked, _: RecordedEvent, tx: Tx) -> None:
    tx.pipe.zadd(tx.keys.popular(), {e.post_id: LIKE}, xx=True, incr=True)


def on_post_unliked(e: PostUnliked, _: RecordedEvent, tx: Tx) -> None:
    # XX: a post that left the list (archived) is not put back by a late unlike.
    tx.pipe.zadd(tx.keys.popular(), {e.post_id: -LIKE}, xx=True, incr=True)


def _retag(tx: Tx, post_id: str, tags: tuple[str, ...]) -> None:
    """Records the post's tags; a published post also moves between the tag lists."""
    tx.run(
        tx.scripts.reindex_terms,
        [tx.keys.post_tags(post_id), tx.keys.recent()],
        [tx.keys.tag_prefix(), post_id, *tags],
    )


PROJECTION = (
    Projection("feeds")
    .on(PostCreated, on_post_created)
    .on(PostUpdated, on_post_updated)
    .on(PostPublished, on_post_published)
    .on(PostArchived, on_post_archived)
    .on(PostLiked, on_post_liked)
    .on(PostUnliked, on_post_unliked)
)
