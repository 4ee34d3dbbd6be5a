"""The search projection: an inverted index, one sorted set of published posts per word.

A post is indexed under the words of its title, content and tags. An edit moves
it from its old words to its new ones; archiving takes it out of all of them.
"""

from __future__ import annotations

import re

from domain.events import PostArchived, PostCreated, PostPublished, PostUpdated
from domain.ports import RecordedEvent
from projections.projection import Projection, micros
from projections.tx import Tx

_WORD = re.compile(r"[^\W_]+")  # runs of letters and digits, in any script
MIN_WORD = 2


def words(*texts: str) -> list[str]:
    """Lower case, split on anything that is not a letter or digit, drop words under 2
    characters; each word once, in order of first appearance."""
    found = (word for text in texts for word in _WORD.findall(text.lower()))
    return list(dict.fromkeys(word for word in found if len(word) >= MIN_WORD))


def on_post_created(e: PostCreated, _: RecordedEvent, tx: Tx) -> None:
    _reindex(tx, e.post_id, words(e.title, e.content, *e.tags))


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
