"""Which space each projection's read models are in, as this process last read it.

Several tasks read the namespace keys on connections of their own (ActiveNamespaces
every second and on each swap notice, the read-your-writes poller with every poll, the
live topics with every read), and their replies are taken in whatever order their
tasks resume. A reply read before a rebuild's swap, taken after one read since, put the
old space back: a registerUser that had waited until the users projection showed its
write then read the space the swap had replaced and answered NOT_FOUND (1 run in 20 of
a server starting on a fresh Redis, on a loaded machine). So each read takes a number
when it is sent, and what it saw counts only if no read sent after it was taken first.
"""

from __future__ import annotations

import itertools


class ActiveSpaces:
    def __init__(self, spaces: dict[str, str] | None = None) -> None:
        self._spaces = dict(spaces or {})
        self._taken: dict[str, int] = {}  # projection -> the number of the read taken
        self._numbers = itertools.count(1)

    def get(self, projection: str) -> str | None:
        return self._spaces.get(projection)

    def read(self) -> int:
        """Numbers a read of the namespace keys: call it before the read is sent."""
        return next(self._numbers)

    def saw(self, read: int, projection: str, space: str | None) -> None:
        """What `read` found active for the projection (None: no space, Redis lost them),
        unless a read sent after it was taken already."""
        if read < self._taken.get(projection, 0):
            return
        self._taken[projection] = read
        if space is None:
            self._spaces.pop(projection, None)
        else:
            self._spaces[projection] = space

    def with_space(self, projection: str, space: str) -> ActiveSpaces:
        """A copy of these, with the projection's read models in `space` (a rebuild's)."""
        return ActiveSpaces({**self._spaces, projection: space})
