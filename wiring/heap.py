"""The cyclic garbage collector, set for a server process once it has started, and for a
bulk command while it runs.

Python's collector stops the event loop while it runs, and a full collection walks
every tracked object. A started server holds about 300,000 that live as long as it
does (modules, the GraphQL schema, the wiring), so each full collection took 165-190 ms
in bench/subscriptions, stalling one whole delivery round of 5,000 subscribers; the
young generation's threshold of 700 allocations also promoted the objects of every
fan-out in progress, so a full collection came every second or two.

Once started, the process freezes what it has (gc.freeze: those objects are left out
of every later collection; they live until exit anyway) and lets the young generation
grow to 10,000 allocations before a collection. Measured in one run of 10 rounds to
5,000 subscribers: full collections took 12 ms instead of 180, and the delivery p99
went from 293 to 118 ms.

A command that does bulk work and exits (`inkwell rebuild`, `verify`) raises the
threshold further, for as long as it runs, and freezes nothing: tests run those
commands in their own process. A rebuild holds two batches of events alive at a time
(one in Redis, the next being queued); at 700 allocations each batch was scanned and
promoted to the old generation, and full collections (12 in 100,000 events, 35-40 ms
each) took a quarter of its CPU: 34 µs per event, 26 µs with the collector off. At
10,000 the young collections still came every 2,200 events or so, 3.3 ms each, and
with the rest 2.4-2.8 µs of a rebuild's 25-30 µs per event. The young count (objects
made and not yet freed) peaked at 40,000 in a rebuild of 100,000 events: two batches'
worth, whatever the log's size. So a bulk command's threshold is 100,000, and no
collection runs while a rebuild's batches come and go; one still runs if garbage that
only the collector can free piles up (after a rebuild run with the collector off, a
gc.collect() found 276 objects). A server keeps 10,000: a young collection stops its
event loop, and one of 100,000 objects would stop it for about 30 ms.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_GENERATION_THRESHOLD = 10_000
BULK_YOUNG_GENERATION_THRESHOLD = 100_000


def settle() -> None:
    """Freezes what start-up made and raises the young generation's threshold. For a
    server process after start-up (not for a test process, which starts many apps: it
    would keep each one's cyclic garbage).

    Nothing is collected first: at that point a full collection found 489 (projector
    process) and 812 (`serve`) garbage objects among 99,000 and 135,000, and took 55-115
    ms of each process's start. Frozen with the rest, they stay until exit."""
    gc.freeze()
    _raise_young_threshold(YOUNG_GENERATION_THRESHOLD)


@contextmanager
def young_generation_raised() -> Iterator[None]:
    """The young generation's threshold raised for a bulk command's run, then put back."""
    before = gc.get_threshold()
    _raise_young_threshold(BULK_YOUNG_GENERATION_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _raise_young_threshold(threshold: int) -> None:
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, threshold), middle, old)
