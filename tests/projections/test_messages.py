"""An event message decodes to what was encoded, once per message for the whole process."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.events import CommentAdded
from domain.ports import RecordedEvent
from projections.projectors import messages

AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_a_message_decodes_once_to_the_event_encoded() -> None:
    recorded = RecordedEvent(
        7, "comment-1", 1, CommentAdded("c1", "p1", "u1", "Hello", AT), "cmd", "u1", "corr", AT
    )
    payload = messages.encode(recorded).decode()
    first = messages.decode(payload)
    assert first == recorded
    # Every projection of the process gets the same message: the same decoded event.
    assert messages.decode(payload) is first
    # A different message is decoded for itself.
    other = messages.encode(RecordedEvent(8, *list(vars(recorded).values())[1:])).decode()
    assert messages.decode(other).position == 8
