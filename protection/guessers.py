"""Addresses past their limit on bad tokens, remembered by each process until the limit
lets them in again: none of their tokens is checked meanwhile, a valid one included.

The limit counted the guesses that failed and refused them (429, 4403), but a token that
verified was still answered: 200 and `viewer`, or `connection_ack`, where a wrong one got
429. So the refusal itself told a guesser which guess was right, at the request rate (an
outside probe checked 1,200 tokens a minute from one address against a limit of 30). Each
process learns of an address from the refusal of one of its own hits on the shared count
(protection/throttle.py), so no lookup is added to a request with a token.
"""

from __future__ import annotations

import math
import time

# Addresses remembered at most; past it, those whose wait is over are forgotten first,
# then the soonest to end.
MOST = 10_000


class Guessers:
    def __init__(self) -> None:
        self._until: dict[str, float] = {}  # address: monotonic end of its refusal

    def remember(self, address: str, seconds: float) -> None:
        if len(self._until) >= MOST and address not in self._until:
            self._forget_one()
        self._until[address] = time.monotonic() + seconds

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

    def _forget_one(self) -> None:
        now = time.monotonic()
        over = [address for address, until in self._until.items() if until <= now]
        for address in over:
            del self._until[address]
        if not over:
            del self._until[min(self._until, key=self._until.__getitem__)]
