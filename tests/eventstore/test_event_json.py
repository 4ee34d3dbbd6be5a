"""The log and the pub/sub messages hold an event's fields as event_to_dict gives them,
though orjson writes them straight from the dataclass (eventstore/codec.py,
domain/recorded_json.py)."""

import dataclasses
from datetime import UTC, datetime

import orjson
import pytest

from domain.events import Event, event_to_dict
from domain.frozen_records import built
from tests.support.events import EXAMPLES

WHOLE_SECOND = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)  # isoformat leaves out .000000


def _variants() -> list[Event]:
    moved = [
        dataclasses.replace(
            event,
            **{
                f.name: WHOLE_SECOND
                for f in dataclasses.fields(event)
                if isinstance(getattr(event, f.name), datetime)
            },
        )
        for event in EXAMPLES
    ]
    return [*EXAMPLES, *moved]


@pytest.mark.parametrize("event", _variants(), ids=lambda e: type(e).__name__)
def test_orjson_writes_an_event_as_its_dict(event: Event) -> None:
    """Byte for byte: what a command appends is stored as before."""
    assert orjson.dumps(event) == orjson.dumps(event_to_dict(event))


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: type(e).__name__)
def test_an_event_read_back_writes_the_same_fields(event: Event) -> None:
    """As the log reader builds one (domain/frozen_records.py), its fields in the order
    the stored JSON gave, which orjson keeps: the same object, its keys in another order."""
    read_back = built(type(event), dict(reversed(list(vars(event).items()))))
    assert orjson.loads(orjson.dumps(read_back)) == orjson.loads(orjson.dumps(event_to_dict(event)))
