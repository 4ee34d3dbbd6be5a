"""What the live subscriptions of one client address may cost together, per process.

A subscription's selection runs again on every change of what it follows, so what a
client holds open is work it asks of the server at every change, for as long as it
likes. One socket holding 40 subscriptions of 24,000 each to one post (each under the
cost limit, each within the subscribe rate) made every like or comment on it cost
seconds of the event loop: another client's `{ __typename }` went from 3 ms to a p99 of
1.9-6.6 s. The budget bounds that work per address, as the WebSocket cap bounds its
sockets: over all its sockets, and for every subscriber of a shared subscription (sharing
is the server's optimisation, not a client's allowance).
"""

from __future__ import annotations

from collections import Counter


class SubscriptionBudget:
    def __init__(self, per_address: int) -> None:
        self.per_address = per_address
        self._held: Counter[str] = Counter()

    def held(self, address: str) -> int:
        """The cost of the live subscriptions `address` holds now."""
        return self._held[address]

    def take(self, address: str, cost: int) -> bool:
        """Counts a subscription of `cost` for `address`, unless that would pass the
        budget; the caller gives it back when the subscription ends, however it ends."""
        if self._held[address] + cost > self.per_address:
            return False
        self._held[address] += cost
        return True

    def give_back(self, address: str, cost: int) -> None:
        self._held[address] -= cost
        if self._held[address] <= 0:
            del self._held[address]
