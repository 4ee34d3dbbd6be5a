"""Events survive the trip to JSON and back unchanged, and the registry knows every one."""

from datetime import UTC, datetime

import orjson

from domain import events
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
    event_from_dict,
    event_to_dict,
)

NOW = datetime(2026, 11, 27, 12, 0, 0, 123456, tzinfo=UTC)

EXAMPLES = [
    UserRegistered("u1", "Ann", None, "", NOW),
    ProfileUpdated("u1", "Ann", "https://example.com/a.png", "bio", NOW),
    PostCreated("p1", "u1", "T", "C", ("a", "b"), NOW),
    PostUpdated("p1", "u1", "T", "C", (), NOW),
    PostPublished("p1", "u1", NOW),
    PostArchived("p1", "u1", NOW, True),
    PostLiked("p1", "u2", NOW),
    PostUnliked("p1", "u2", NOW),
    CommentAdded("c1", "p1", "u2", "Hi", NOW),
    CommentDeleted("c1", "p1", "u2", "u1", NOW),
]


def test_every_event_round_trips_through_json() -> None:
    for event in EXAMPLES:
        data = orjson.loads(orjson.dumps(event_to_dict(event)))
        assert event_from_dict(type(event).__name__, data) == event


def test_the_registry_names_every_event_class_under_its_own_name() -> None:
    """A new event class left out of EVENT_TYPES could be written but never read back."""
    defined = {
        cls
        for cls in vars(events).values()
        if isinstance(cls, type) and issubclass(cls, Event) and cls is not Event
    }
    assert set(EVENT_TYPES.values()) == defined
    assert all(name == cls.__name__ for name, cls in EVENT_TYPES.items())
