"""Rebuilding an aggregate from its stream, written once for every aggregate."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, Self, TypeVar

from domain.events import Event


class Evolving(Protocol):
    def evolve(self, event: Event) -> Self:
        """The aggregate after one more of its events."""
        ...


A = TypeVar("A", bound=Evolving)
E = TypeVar("E", bound=Event)


def replay(
    events: Sequence[Event], created: type[E], start: Callable[[E], A]
) -> A | None:
    """The aggregate a stream describes: `start` builds it from the first event, which must
    be a `created`, and every later event evolves it. None when the stream is empty."""
    if not events:
        return None
    first = events[0]
    assert isinstance(first, created), f"{type(first).__name__} cannot start the stream"
    return evolved(start(first), events[1:])


def evolved(aggregate: A, events: Sequence[Event]) -> A:
    """The aggregate after each of the events, in order."""
    for event in events:
        aggregate = aggregate.evolve(event)
    return aggregate
