"""The recent-events projection: the newest events of the log, a capped sorted set.

The live page's event log reads it, so it shows the log growing from a read model like
any other. An entry names the event, never its data. Each entry carries its commit time,
which also tells how long the other projections' oldest unapplied event has waited.

Who may see an entry follows from what this projection records per post: a post's
events, and those of its likes and comments, are its author's; everybody else sees only
those from its publication on, and only while it stays published. So a draft's events
(that it exists, its id, when it is edited) stay its author's even once it is published,
and an archived post's leave every other reader's list, as the post itself leaves the
API. At each batch's end the list is split by who may see each entry
(lua/public_events.lua): what everybody may see, and per author, their posts' entries
nobody else may; a reader merges the first with their own (projections/readers/
read_models.py), so a read is a ZREVRANGE or two.
"""

from __future__ import annotations

import orjson

from domain.events import (
    EVENT_TYPES,
    CommentAdded,
    CommentDeleted,
    Event,
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
from projections.projectors.projection import Projection
from projections.projectors.tx import ScriptCall, Tx

NAME = "recent_events"


def on_any_event(e: Event, at: RecordedEvent, tx: Tx) -> None:
    post_id = _post_of(e)
    # Scored by position, not pushed: an event applied late (parked, then retried) takes
    # its place in log order, so the read model equals a replay whatever the apply order.
    # Only the batch's newest entries can stay: the others are never made (Tx.add_capped).
    recent = tx.keys.recent_events()
    tx.add_capped(
        recent,
        tx.keys.RECENT_EVENTS_KEPT,
        at.position,
        lambda: _entry(e, at, post_id),
    )
    if post_id is not None:
        _record_audience(e, at, tx, post_id)
    # Once per batch, after its entries are added (Recomputes): lua/public_events.lua.
    tx.recompute_once(recent, lambda: _split_by_audience(tx))


def _split_by_audience(tx: Tx) -> ScriptCall:
    keys = tx.keys
    return (
        tx.scripts.public_events,
        [keys.recent_events(), keys.recent_public_events(), keys.recent_events_authors()],
        [keys.recent_events_post_prefix(), keys.recent_own_events_prefix()],
    )


def _post_of(e: Event) -> str | None:
    """The post whose visibility an event shares; None for events everybody may see."""
    match e:
        case UserRegistered() | ProfileUpdated():
            return None  # users are public (`user(id)`)
        case (
            PostCreated()
            | PostUpdated()
            | PostPublished()
            | PostArchived()
            | PostLiked()
            | PostUnliked()
            | CommentAdded()
            | CommentDeleted()
        ):
            return e.post_id
    # A new event type must say whose it is before it is listed to anybody.
    raise TypeError(f"the recent events do not know whose {type(e).__name__} is")


def _record_audience(e: Event, at: RecordedEvent, tx: Tx, post_id: str) -> None:
    """Who may see the post's entries: its author's id, then, while it is published, a
    space and the position of its publication (one string, so that a read takes those of
    many posts in one MGET). Written by the post's own events alone, from their own
    fields: they apply in stream order even when another stream is parked, so the value
    equals a replay's. Likes and comments are added to published posts only
    (domain/like.py, domain/comment.py): they change nothing here."""
    key = tx.keys.recent_events_post(post_id)
    match e:
        case PostCreated() | PostArchived():
            tx.pipe.set(key, e.author_id)
        case PostPublished():
            tx.pipe.set(key, f"{e.author_id} {at.position}")


def _entry(e: Event, at: RecordedEvent, post_id: str | None) -> bytes:
    return orjson.dumps(
        {
            "position": at.position,
            "type": type(e).__name__,
            "streamId": at.stream_id,
            "version": at.version,
            "recordedAt": at.recorded_at.isoformat(),
        }
        | ({"postId": post_id} if post_id is not None else {})
    )


PROJECTION = Projection(NAME).on_each(EVENT_TYPES.values(), on_any_event)
