"""Rebuilding an aggregate from its stream, written once for every aggregate, and the
aggregates a process replayed last, so that the next command loads only what is new."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol, Self, TypeVar

from domain.events import Event


class Evolving(Protocol):
    def evolve(self, event: Event) -> Self:
        """The aggregate after one more of its events."""
        ...


A = TypeVar("A", bound=Evolving)
E = TypeVar("E", bound=Event)
R = TypeVar("R")


def replay(events: Sequence[Event], created: type[E], start: Callable[[E], A]) -> A | None:
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


class Replays:
    """The aggregate last replayed from each of the `streams` streams used last, with the
    version it stands at, so that a command loads and evolves only the events appended
    since (`EventStore.load(stream, after=version)`), usually none. Profiled under the
    write benchmark (get+mutate+save, 50 writers, cProfile on the event loop), reading,
    decoding and replaying whole streams was 61% of the loop's time. Aggregates are
    immutable, so commands can share one; a stream's versions count up from 1 and are
    never taken back, so the aggregate at a version stays true."""

    def __init__(self, streams: int = 4_096) -> None:
        self._streams = streams
        self._held: OrderedDict[tuple[str, Callable[..., Any]], tuple[int, Any]] = OrderedDict()

    def held(self, stream_id: str, rebuild: Callable[[list[Event]], Any]) -> tuple[int, Any] | None:
        """The version and `rebuild`'s aggregate (never None) held for the stream, if any."""
        key = (stream_id, rebuild)
        held = self._held.get(key)
        if held is not None:
            self._held.move_to_end(key)
        return held

    def hold(
        self, stream_id: str, rebuild: Callable[[list[Event]], R], version: int, aggregate: R
    ) -> None:
        """Keeps the aggregate at `version`; an empty stream's is not worth keeping."""
        if aggregate is None or version == 0:
            return
        key = (stream_id, rebuild)
        self._held[key] = (version, aggregate)
        self._held.move_to_end(key)
        if len(self._held) > self._streams:
            self._held.popitem(last=False)
