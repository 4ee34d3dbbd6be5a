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
    """The aggregate last replayed (or appended to) from each of the `streams` streams used
    last, with the version it stands at, so that a command decides on it as it is, the
    append checking that version (Handling, trust_held), or loads and evolves only the
    events appended since (`EventStore.load(stream, after=version)`). Profiled under the
    write benchmark (get+mutate+save, 50 writers, cProfile on the event loop), reading,
    decoding and replaying whole streams was 61% of the loop's time. Aggregates are
    immutable, so commands can share one; a stream's versions count up from 1 and are
    never taken back, so the aggregate at a version stays true."""

    def __init__(self, streams: int = 4_096) -> None:
        self._streams = streams
        # stream -> (the rebuild it was replayed with, its version, the aggregate)
        self._held: OrderedDict[str, tuple[Callable[..., Any], int, Any]] = OrderedDict()

    def held(self, stream_id: str, rebuild: Callable[[list[Event]], Any]) -> tuple[int, Any] | None:
        """The version and `rebuild`'s aggregate (never None) held for the stream, if any."""
        held = self._held.get(stream_id)
        if held is None or held[0] is not rebuild:
            return None
        self._held.move_to_end(stream_id)
        return held[1], held[2]

    def hold(
        self, stream_id: str, rebuild: Callable[[list[Event]], R], version: int, aggregate: R
    ) -> None:
        """Keeps the aggregate at `version`; an empty stream's is not worth keeping, nor
        one older than the version held (a load that began before this process's own
        append to the stream ended after it)."""
        if aggregate is None or version == 0:
            return
        held = self._held.get(stream_id)
        if held is not None and held[0] is rebuild and held[1] > version:
            return
        self._held[stream_id] = (rebuild, version, aggregate)
        self._held.move_to_end(stream_id)
        if len(self._held) > self._streams:
            self._held.popitem(last=False)

    def forget(self, stream_id: str) -> None:
        """Drops what is held for a stream whose append was refused: the next load replays
        it whole, so a held version the log no longer has (a database restored from an
        older copy under a running process) cannot refuse every later command."""
        self._held.pop(stream_id, None)
