"""One event of every type, as the domain makes them: what round-trip tests run through."""

from __future__ import annotations

from datetime import UTC, datetime

from domain import events

NOW = datetime(2026, 11, 27, 12, 0, 0, 123456, tzinfo=UTC)

EXAMPLES: list[events.Event] = [
    events.UserRegistered("u1", "Ann", None, "", NOW),
    events.ProfileUpdated("u1", "Ann", "https://example.com/a.png", "bio", NOW),
    events.PostCreated("p1", "u1", "T", "C", ("a", "b"), NOW),
    events.PostUpdated("p1", "u1", "T", "C", (), NOW),
    events.PostPublished("p1", "u1", NOW),
    events.PostArchived("p1", "u1", NOW, True),
    events.PostLiked("p1", "u2", NOW),
    events.PostUnliked("p1", "u2", NOW),
    events.CommentAdded("c1", "p1", "u2", "Hi", NOW),
    events.CommentDeleted("c1", "p1", "u2", "u1", NOW),
]
