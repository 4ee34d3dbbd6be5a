"""Event versions: the log keeps every event in the shape it was written in; readers get
the shape the code has now.

Each stored row carries its type and `schema_version`. When an event type's shape
changes, its SCHEMA_VERSION goes up by one and an upcaster keyed by (type, old
version) turns the old data into the next version's. Every read path (aggregates
loading a stream, projectors, `events tail`, `verify`) decodes through
`EventSchemas.decode`, so an old event is never seen in its old shape and no stored
row is ever rewritten.

A row that cannot be decoded (a type this code does not know, a version newer than
the code, broken JSON, fields that do not fit) raises UndecodableEvent; the log
hands it to projectors as an `Undecodable` event, which they park
(projections/projectors/parking.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.events import EVENT_TYPES, Event, event_from_dict

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# (type name, the version it upcasts from) -> the data of version + 1. Empty while every
# event type is at its first version.
UPCASTERS: Mapping[tuple[str, int], Upcaster] = {}


class UndecodableEvent(Exception):
    """A stored event this code cannot turn into an Event."""


@dataclass(frozen=True)
class Undecodable(Event):
    """Stands in for a stored row that could not be decoded, so the log can still be read
    past it: projectors park it, and it names what went wrong."""

    type_name: str
    schema_version: int
    error: str


@dataclass(frozen=True)
class EventSchemas:
    """The current version of every event type and the upcasters that lead up to it."""

    upcasters: Mapping[tuple[str, int], Upcaster] = field(default_factory=lambda: UPCASTERS)
    # Overrides of the classes' SCHEMA_VERSION, by type name (tests replaying history).
    versions: Mapping[str, int] = field(default_factory=dict)

    def version_of(self, type_name: str) -> int:
        """The version events of this type are written at now."""
        return self.versions.get(type_name) or EVENT_TYPES[type_name].SCHEMA_VERSION

    def decode(
        self,
        type_name: str,
        schema_version: int,
        data: str | bytes,
        parse: Callable[[str | bytes], Any] = json.loads,
    ) -> Event:
        """The stored event in today's shape; UndecodableEvent says why when it cannot be.
        `parse` reads the JSON: the store passes a faster parser than the standard one
        the domain, free of libraries, has."""
        if type_name not in EVENT_TYPES:
            raise UndecodableEvent(f"unknown event type {type_name!r}")
        current = self.version_of(type_name)
        if schema_version > current:
            raise UndecodableEvent(
                f"{type_name} v{schema_version} is newer than this code (v{current})"
            )
        try:
            fields = parse(data)
            if not isinstance(fields, dict):
                raise TypeError(f"data is a JSON {type(fields).__name__}, not an object")
            for version in range(schema_version, current):
                upcast = self.upcasters.get((type_name, version))
                if upcast is None:
                    raise LookupError(f"no upcaster from {type_name} v{version}")
                fields = upcast(fields)
            return event_from_dict(type_name, fields)
        except Exception as error:
            raise UndecodableEvent(
                f"{type_name} v{schema_version}: {type(error).__name__}: {error}"
            ) from error


SCHEMAS = EventSchemas()
