"""Recorded events made up without a log, for tests of what carries them (messages, the
publisher)."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.events import CommentAdded
from domain.ports import RecordedEvent

AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def recorded(position: int, body: str = "Hello") -> RecordedEvent:
    """A comment added at `position` (its stream's version too)."""
    added = CommentAdded(f"c{position}", "p1", "u1", body, AT)
    return RecordedEvent(position, "comment-1", position, added, "cmd", "u1", "corr", AT)
