"""Which space each projection's read models are in, as this process last read it.

Several tasks read the namespace keys on connections of their own (ActiveNamespaces
every second and on each swap notice, the read-your-writes poller with every poll, the
live topics with every read), and their replies are taken in whatever order their
tasks resume. A reply read before a rebuild's swap, taken after one read since, put the
old space back: a registerUser that had waited until the users projection showed its
write then read the space the swap had replaced and answered NOT_FOUND (1 run in 20 of
a server starting on a fresh Redis, on a loaded machine).

Nor does the order in which reads are begun say in which order Redis ran them: a read
waits for a connection from the pool (a new one at start: connect, HELLO, SELECT) before
it is sent. The poller's read, begun first and sent after the swap, lost to one that
ActiveNamespaces began later and sent before it, and the same registerUser answered
NOT_FOUND again (once in a CI run). So each read takes a number when it is begun and
another when its reply is taken, and reports the projection's checkpoint read with the
space. A read begun after another's reply was taken ran after it in Redis and rules.
Two reads that overlapped may have run in either order: the one that found the higher
checkpoint rules, since a swap only makes active a space at least as far as the live
one's checkpoint, and a space whose checkpoint covers a position holds it; the one
begun later breaks a tie. A read that found a higher checkpoint in a space Redis has
since lost (a flush, or a restart from an older snapshot) rules only until the next
read that does not overlap it, within the second.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass


@dataclass(frozen=True)
class _Seen:
    space: str | None
    checkpoint: int  # the projection's, read with the space
    begun: int  # the read's number, taken before it was sent
    taken: int  # the number taken when its reply was

    def overrules(self, other: _Seen) -> bool:
        """Whether Redis held this later than `other`, as far as the numbers tell."""
        if self.begun > other.taken:  # begun once the other's reply was in
            return True
        return (self.checkpoint, self.begun) > (other.checkpoint, other.begun)


class ActiveSpaces:
    def __init__(self, spaces: dict[str, str] | None = None) -> None:
        self._seen = {
            projection: _Seen(space, checkpoint=0, begun=0, taken=0)
            for projection, space in (spaces or {}).items()
        }
        # The space of each projection that has one, kept with `_seen`: every key name is
        # built from it (Keys.space), 15 times an event in a rebuild, where a lookup
        # through `_seen` was 11% of the CPU under cProfile.
        self.active = {name: seen.space for name, seen in self._seen.items() if seen.space}
        self._numbers = itertools.count(1)

    def get(self, projection: str) -> str | None:
        return self.active.get(projection)

    def read(self) -> int:
        """Numbers a read of the namespace keys: call it before the read is begun."""
        return next(self._numbers)

    def saw(self, read: int, projection: str, space: str | None, checkpoint: int) -> None:
        """What `read` found active for the projection (None: no space, Redis lost them)
        and the projection's checkpoint it read with it, unless a read that Redis ran
        later was taken already."""
        seen = _Seen(space, checkpoint, begun=read, taken=next(self._numbers))
        current = self._seen.get(projection)
        if current is None or seen.overrules(current):
            self._seen[projection] = seen
            if space:
                self.active[projection] = space
            else:
                self.active.pop(projection, None)

    def with_space(self, projection: str, space: str) -> ActiveSpaces:
        """A copy of these, with the projection's read models in `space` (a rebuild's)."""
        return ActiveSpaces({**self.active, projection: space})
