"""The search projection: an inverted index, one sorted set of published posts per word.

A post is indexed under the words of its title, content and tags. An edit moves
it from its old words to its new ones; archiving takes it out of all of them. How a text
splits into words is in projections/keyspace/search_words.py, which queries use too.
"""

from __future__ import annotations

from domain.events import PostArchived, PostCreated, PostPublished, PostUpdated
from domain.ports import RecordedEvent
from projections.keyspace.search_words import words
from projections.projectors.projection import Projection, micros, record_terms
from projections.projectors.tx import Tx


def on_post_created(e: PostCreated, _: RecordedEvent, tx: Tx) -> None:
    # A new post: no words to take back, no list it is in (see record_terms).
    if post_words := words(e.title, e.content, *e.tags):
        record_terms(tx, tx.keys.search_post_words(e.post_id), post_words)


def on_post_updated(e: PostUpdated, _: RecordedEvent, tx: Tx) -> None:
    _reindex(tx, e.post_id, words(e.title, e.content, *e.tags))


def on_post_published(e: PostPublished, _: RecordedEvent, tx: Tx) -> None:
    score = micros(e.published_at)
    tx.pipe.zadd(tx.keys.search_published(), {e.post_id: score})
    tx.run(
        tx.scripts.list_under_terms,
        [tx.keys.search_post_words(e.post_id)],
        [tx.keys.search_word_prefix(), e.post_id, score],
    )


def on_post_archived(e: PostArchived, _: RecordedEvent, tx: Tx) -> None:
    tx.pipe.zrem(tx.keys.search_published(), e.post_id)
    tx.run(
        tx.scripts.list_under_terms,
        [tx.keys.search_post_words(e.post_id)],
        [tx.keys.search_word_prefix(), e.post_id],
    )
    tx.pipe.delete(tx.keys.search_post_words(e.post_id))


def _reindex(tx: Tx, post_id: str, post_words: list[str]) -> None:
    """Records the post's words; a published post also moves between the word lists."""
    tx.run(
        tx.scripts.reindex_terms,
        [tx.keys.search_post_words(post_id), tx.keys.search_published()],
        [tx.keys.search_word_prefix(), post_id, *post_words],
    )


PROJECTION = (
    Projection("search")
    .on(PostCreated, on_post_created)
    .on(PostUpdated, on_post_updated)
    .on(PostPublished, on_post_published)
    .on(PostArchived, on_post_archived)
)
