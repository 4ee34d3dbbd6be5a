"""Events survive the trip to JSON and back unchanged, and the registry knows every one."""

import orjson

from domain import events
from domain.events import EVENT_TYPES, Event, event_from_dict, event_to_dict
from tests.support.events import EXAMPLES


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
