"""Addresses past their limit on bad tokens, remembered by each process until the limit
lets them in again: none of their tokens is checked meanwhile, a valid one included.

The limit counted the guesses that failed and refused them (429, 4403), but a token that
verified was still answered: 200 and `viewer`, or `connection_ack`, where a wrong one got
429. So the refusal itself told a guesser which guess was right, at the request rate (an
outside probe checked 1,200 tokens a minute from one address against a limit of 30). Each
process learns of an address from the refusal of one of its own hits on the shared count
(protection/throttle.py), so no lookup is added to a request with a token.

And from its own count of the address's failed tokens, kept as they fail, before the
shared count answers: a burst of 250 requests sent at once from one address were all
checked before the first refusal came back from Redis, and the valid token among them
was answered 200 (a re-check probe; 50 `connection_init`s at once, the same).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TypeVar

# Addresses remembered at most, in each table; past it, those whose time is over are
# forgotten first, then the soonest to end.
MOST = 10_000

T = TypeVar("T")


class Guessers:
    def __init__(self) -> None:
        self._until: dict[str, float] = {}  # address: monotonic end of its refusal
        # address: (monotonic end of the window, tokens that failed in it)
        self._failed: dict[str, tuple[float, int]] = {}

    def failed(self, address: str, amount: int, window: float) -> None:
        """A token from `address` did not verify: past `amount` in a window of `window`
        seconds from its first, the address is refused till the window ends."""
        now = time.monotonic()
        end, count = self._failed.get(address, (0.0, 0))
        if end <= now:
            _make_room(self._failed, address, lambda failed: failed[0], now)
            end, count = now + window, 0
        self._failed[address] = (end, count + 1)
        if count + 1 > amount:
            self.remember(address, end - now)

    def remember(self, address: str, seconds: float) -> None:
        now = time.monotonic()
        _make_room(self._until, address, float, now)
        self._until[address] = now + seconds

    def seconds_left(self, address: str) -> int | None:
        """Whole seconds until the address's tokens are checked again; None when they are."""
        until = self._until.get(address)
        if until is None:
            return None
        left = until - time.monotonic()
        if left <= 0:
            del self._until[address]
            return None
        return max(1, math.ceil(left))


def _make_room(table: dict[str, T], address: str, end: Callable[[T], float], now: float) -> None:
    """Before `address` is added to a full `table`: forgets the entries whose time is over,
    else the one soonest to end."""
    if len(table) < MOST or address in table:
        return
    over = [known for known, value in table.items() if end(value) <= now]
    for known in over:
        del table[known]
    if not over:
        del table[min(table, key=lambda known: end(table[known]))]
