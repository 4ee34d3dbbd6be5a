"""Frozen dataclasses built from fields already read, without a call of their __init__.

A frozen dataclass's __init__ sets each field through `object.__setattr__`, to get past
the class's own `__setattr__`, which refuses: about 0.13 µs a field on Python 3.11.
Reading the log builds two per event, the event and its RecordedEvent, and that was
a third of the time a rebuild spent decoding (py-spy: the generated __init__ under
recorded_event). `built` fills the new instance's `__dict__` at once, which is all such
an __init__ does: a RecordedEvent in 0.23 µs against 1.08.

Only for plain frozen dataclasses (no __post_init__, no slots), and only when every
field is given and nothing else: otherwise the class is called as ever, so that it fills
its defaults or raises for a missing or unknown field.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")

_FIELDS: dict[type, frozenset[str]] = {}


def built(cls: type[T], fields: dict[str, Any]) -> T:
    """`cls(**fields)`, faster; `fields` becomes the instance's own: not to be reused."""
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = _plain_fields(cls)
    if fields.keys() != names:
        return cls(**fields)
    instance = object.__new__(cls)
    instance.__dict__.update(fields)
    return instance


def _plain_fields(cls: type) -> frozenset[str]:
    if not dataclasses.is_dataclass(cls) or "__slots__" in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a dataclass with a __dict__")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} checks its fields in __post_init__: call it")
    return frozenset(field.name for field in dataclasses.fields(cls))
