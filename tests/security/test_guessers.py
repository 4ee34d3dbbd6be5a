"""The addresses a process remembers past their limit on bad tokens stay bounded, and each
is forgotten when its refusal ends (protection/guessers.py)."""

from __future__ import annotations

import time

from protection import guessers
from protection.guessers import Guessers


def test_an_address_is_refused_until_its_wait_is_over() -> None:
    remembered = Guessers()
    remembered.remember("10.0.0.1", 0.2)
    assert remembered.seconds_left("10.0.0.1") == 1
    assert remembered.seconds_left("10.0.0.2") is None
    time.sleep(0.25)
    assert remembered.seconds_left("10.0.0.1") is None


def test_past_the_most_the_ended_then_the_soonest_to_end_are_forgotten() -> None:
    remembered = Guessers()
    remembered.remember("ended", 0.0)
    for n in range(guessers.MOST - 1):
        remembered.remember(f"10.0.{n // 256}.{n % 256}", 60 + n)
    remembered.remember("new", 60)  # the ended one makes room
    assert remembered.seconds_left("new") == 60
    assert remembered.seconds_left("10.0.0.0") == 60
    remembered.remember("newer", 90)  # none ended: the soonest to end makes room
    assert remembered.seconds_left("10.0.0.0") is None
    assert remembered.seconds_left("newer") == 90


def test_past_the_amount_of_failed_tokens_in_a_window_the_address_is_refused() -> None:
    remembered = Guessers()
    for _ in range(2):
        remembered.failed("10.0.0.1", 2, 0.3)
    assert remembered.seconds_left("10.0.0.1") is None
    remembered.failed("10.0.0.1", 2, 0.3)
    assert remembered.seconds_left("10.0.0.1") == 1  # till the window ends
    time.sleep(0.35)
    assert remembered.seconds_left("10.0.0.1") is None
    remembered.failed("10.0.0.1", 2, 0.3)  # a new window: counted from one again
    assert remembered.seconds_left("10.0.0.1") is None
