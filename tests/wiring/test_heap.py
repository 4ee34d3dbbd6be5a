"""A started server process freezes its heap and collects young objects less often."""

from __future__ import annotations

import gc

import pytest

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


def test_a_bulk_command_raises_the_young_threshold_while_it_runs_and_freezes_nothing() -> None:
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    try:
        gc.set_threshold(700, 10, 10)
        with heap.young_generation_raised():
            assert gc.get_threshold() == (heap.YOUNG_GENERATION_THRESHOLD, 10, 10)
            assert gc.get_freeze_count() == frozen
        assert gc.get_threshold() == (700, 10, 10)
        with pytest.raises(RuntimeError), heap.young_generation_raised():
            raise RuntimeError("the command failed")
        assert gc.get_threshold() == (700, 10, 10)
        gc.set_threshold(50_000, 5, 5)
        with heap.young_generation_raised():  # a higher threshold set by someone else stays
            assert gc.get_threshold() == (50_000, 5, 5)
    finally:
        gc.set_threshold(*threshold)
