"""`built` makes what the frozen dataclass's own __init__ makes, or calls it."""

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.events import PostCreated, event_from_dict
from domain.frozen_records import built
from domain.ports import RecordedEvent

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
EVENT = PostCreated("p1", "u1", "T", "C", ("a",), NOW)
FIELDS: dict[str, Any] = {
    "position": 7,
    "stream_id": "post-p1",
    "version": 1,
    "event": EVENT,
    "command_id": "c1",
    "actor_id": None,
    "correlation_id": "r1",
    "recorded_at": NOW,
}


def test_it_equals_hashes_and_reads_as_the_class_called() -> None:
    made = built(RecordedEvent, dict(FIELDS))
    called = RecordedEvent(**FIELDS)
    assert type(made) is RecordedEvent
    assert made == called
    assert hash(made) == hash(called)
    assert repr(made) == repr(called)
    assert dataclasses.replace(made, position=8) == dataclasses.replace(called, position=8)


def test_it_stays_frozen() -> None:
    made = built(RecordedEvent, dict(FIELDS))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.position = 8  # type: ignore[misc]


def test_a_missing_or_unknown_field_raises_as_the_class_does() -> None:
    missing = {k: v for k, v in FIELDS.items() if k != "actor_id"}
    with pytest.raises(TypeError, match="actor_id"):
        built(RecordedEvent, missing)
    with pytest.raises(TypeError, match="colour"):
        built(RecordedEvent, dict(FIELDS, colour="red"))


@dataclasses.dataclass(frozen=True)
class _WithDefault:
    name: str
    count: int = 0


@dataclasses.dataclass(frozen=True)
class _Checked:
    name: str

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("no name")


def test_an_omitted_field_with_a_default_takes_it() -> None:
    assert built(_WithDefault, {"name": "a"}) == _WithDefault("a", 0)


def test_a_class_that_checks_its_fields_is_refused() -> None:
    with pytest.raises(TypeError, match="__post_init__"):
        built(_Checked, {"name": ""})


def test_an_event_missing_a_field_is_not_decoded() -> None:
    """The log reader turns the TypeError into an Undecodable event at its position."""
    data = {"post_id": "p1", "author_id": "u1", "title": "T", "content": "C", "tags": []}
    with pytest.raises(TypeError, match="created_at"):
        event_from_dict("PostCreated", data)
