"""Events: what happened, in the past tense. The event log stores them; projectors read them."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.frozen_records import built


@dataclass(frozen=True)
class Event:
    """Base of every event. SCHEMA_VERSION goes up when a stored shape changes."""

    SCHEMA_VERSION: typing.ClassVar[int] = 1


@dataclass(frozen=True)
class UserRegistered(Event):
    user_id: str
    name: str
    avatar_url: str | None
    bio: str
    registered_at: datetime


@dataclass(frozen=True)
class ProfileUpdated(Event):
    """Carries the whole profile after the change, so a reader needs no earlier event."""

    user_id: str
    name: str
    avatar_url: str | None
    bio: str
    updated_at: datetime


@dataclass(frozen=True)
class PostCreated(Event):
    post_id: str
    author_id: str
    title: str
    content: str
    tags: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class PostUpdated(Event):
    """Carries every editable field after the edit, so projectors never read the old ones."""

    post_id: str
    author_id: str
    title: str
    content: str
    tags: tuple[str, ...]
    updated_at: datetime


@dataclass(frozen=True)
class PostPublished(Event):
    post_id: str
    author_id: str
    published_at: datetime


@dataclass(frozen=True)
class PostArchived(Event):
    post_id: str
    author_id: str
    archived_at: datetime
    was_published: bool


@dataclass(frozen=True)
class PostLiked(Event):
    post_id: str
    user_id: str
    liked_at: datetime


@dataclass(frozen=True)
class PostUnliked(Event):
    post_id: str
    user_id: str
    unliked_at: datetime


@dataclass(frozen=True)
class CommentAdded(Event):
    comment_id: str
    post_id: str
    author_id: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class CommentDeleted(Event):
    comment_id: str
    post_id: str
    author_id: str
    deleted_by: str
    deleted_at: datetime


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        UserRegistered,
        ProfileUpdated,
        PostCreated,
        PostUpdated,
        PostPublished,
        PostArchived,
        PostLiked,
        PostUnliked,
        CommentAdded,
        CommentDeleted,
    )
}


def event_to_dict(event: Event) -> dict[str, Any]:
    """JSON-ready fields: datetimes as ISO-8601, tuples as lists."""
    return {field.name: _to_json(getattr(event, field.name)) for field in dataclasses.fields(event)}


def event_from_dict(type_name: str, data: dict[str, Any]) -> Event:
    """The event whose fields event_to_dict gave: `data`, which the call takes over (its
    dates and lists are replaced in place)."""
    shape = _SHAPES[type_name]
    for name in shape.moments:
        if (moment := data.get(name)) is not None:
            data[name] = datetime.fromisoformat(moment)
    for name in shape.sequences:
        if isinstance(items := data.get(name), list):
            data[name] = tuple(items)
    return built(shape.cls, data)


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _admits(hint: Any, cls: type) -> bool:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return cls in typing.get_args(hint)
    return hint is cls


@dataclass(frozen=True)
class _Shape:
    """What reading an event type's JSON fields back takes, beyond the fields themselves."""

    cls: type[Event]
    moments: tuple[str, ...]  # datetimes, as ISO-8601 text (or null)
    sequences: tuple[str, ...]  # tuples, as JSON lists


def _shape(cls: type[Event]) -> _Shape:
    hints = typing.get_type_hints(cls)
    return _Shape(
        cls,
        moments=tuple(name for name, hint in hints.items() if _admits(hint, datetime)),
        sequences=tuple(name for name, hint in hints.items() if typing.get_origin(hint) is tuple),
    )


# Worked out once from the annotations: decoding reads every event of the log, and asking
# typing per field and event cost more than the rest of the decoding (yappi:
# get_origin, 70,915 calls for 2,000 commands).
_SHAPES = {name: _shape(cls) for name, cls in EVENT_TYPES.items()}
