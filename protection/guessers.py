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

import heapq
import math
import time
from collections.abc import Callable
from typing import Generic, TypeVar

# Addresses remembered at most, in each table; past it, those whose time is over are
# forgotten first, then the soonest to end.
MOST = 10_000

T = TypeVar("T")


class Guessers:
    def __init__(self) -> None:
        self._until = _Ending[float](float)  # address: monotonic end of its refusal
        # address: (monotonic end of the window, tokens that failed in it)
        self._failed = _Ending[tuple[float, int]](lambda failed: failed[0])

    def failed(self, address: str, amount: int, window: float) -> None:
        """A token from `address` did not verify: past `amount` in a window of `window`
        seconds from its first, the address is refused till the window ends."""
        now = time.monotonic()
        end, count = self._failed.get(address) or (0.0, 0)
        if end <= now:
            end, count = now + window, 0
        self._failed.put(address, (end, count + 1))
        if count + 1 > amount:
            self.remember(address, end - now)

    def remember(self, address: str, seconds: float) -> None:
        self._until.put(address, time.monotonic() + seconds)

    def seconds_left(self, address: str) -> int | None:
        """Whole seconds until the address's tokens are checked again; None when they are."""
        until = self._until.get(address)
        if until is None:
            return None
        left = until - time.monotonic()
        if left <= 0:
            self._until.forget(address)
            return None
        return max(1, math.ceil(left))


class _Ending(Generic[T]):
    """Values by address, each with its end, at most MOST of them: a new address in a full
    table takes the place of the one soonest to end (one whose time is over, first).

    The ends are kept in a heap, so that this costs a log, not a look at every entry: the
    scan it replaced took 2.2-2.8 ms of the event loop for each new address once the
    table was full, on every bad token from a client with more than 10,000 addresses."""

    def __init__(self, end: Callable[[T], float]) -> None:
        self._end = end
        self._values: dict[str, T] = {}
        self._ends: list[tuple[float, str]] = []  # (end, address), some of them stale

    def get(self, address: str) -> T | None:
        return self._values.get(address)

    def put(self, address: str, value: T) -> None:
        old = self._values.get(address)
        if old is None and len(self._values) >= MOST:
            self._forget_soonest()
        self._values[address] = value
        if old is None or self._end(old) != self._end(value):
            heapq.heappush(self._ends, (self._end(value), address))
            if len(self._ends) > 2 * MOST:  # stale entries dropped, now and then
                self._ends = [(self._end(v), known) for known, v in self._values.items()]
                heapq.heapify(self._ends)

    def forget(self, address: str) -> None:
        del self._values[address]

    def _forget_soonest(self) -> None:
        while self._ends:
            end, address = heapq.heappop(self._ends)
            value = self._values.get(address)
            if value is not None and self._end(value) == end:
                del self._values[address]
                return
