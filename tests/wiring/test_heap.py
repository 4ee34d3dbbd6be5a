"""A started server process freezes its heap and collects young objects less often."""

from __future__ import annotations

import gc

from wiring import heap


def test_settle_freezes_the_survivors_and_raises_the_young_threshold() -> None:
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    kept = [object(), {"a": []}]  # tracked, alive: frozen by settle
    try:
        gc.set_threshold(700, 10, 10)
        heap.settle()
        assert gc.get_freeze_count() > frozen + len(kept) - 1
        assert gc.get_threshold() == (heap.YOUNG_GENERATION_THRESHOLD, 10, 10)
        gc.set_threshold(50_000, 10, 10)
        heap.settle()  # a higher threshold set by someone else stays
        assert gc.get_threshold() == (50_000, 10, 10)
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
