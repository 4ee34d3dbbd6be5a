"""The decoded events of the streams commands loaded lately, so a load reads only what
was appended since.

A command loads two or three streams and replays them. Profiled under the write
benchmark (get+mutate+save, 50 writers, cProfile on the loop), loading was 61% of the
loop's time: 10 events read and decoded per command, the same ones again and again.
Events are never changed once appended and a stream's versions count up from 1, so
the events up to a version seen once stay true: a load asks the log only for versions
past the cached one (usually none) and decodes those alone. Other processes' appends
are read like any others, so a load is exactly as fresh as a full read.

Only what was read from the log goes in, after it decoded: an event this code
cannot read is never cached, and fails every load of its stream as before.
"""

from __future__ import annotations

from collections import OrderedDict

from domain.events import Event

STREAMS = 4_096  # streams are a handful of events each (likes and comments have their own)


class StreamCache:
    """The least recently loaded stream goes first once `streams` are held."""

    def __init__(self, streams: int = STREAMS) -> None:
        self._streams = streams
        self._held: OrderedDict[str, tuple[tuple[Event, ...], int]] = OrderedDict()

    def get(self, stream_id: str) -> tuple[tuple[Event, ...], int]:
        """The stream's events up to its cached version; none and version 0 if not held."""
        held = self._held.get(stream_id)
        if held is None:
            return (), 0
        self._held.move_to_end(stream_id)
        return held

    def put(self, stream_id: str, events: tuple[Event, ...], version: int) -> None:
        self._held[stream_id] = (events, version)
        self._held.move_to_end(stream_id)
        if len(self._held) > self._streams:
            self._held.popitem(last=False)
