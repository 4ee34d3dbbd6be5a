"""The ids the server makes: random (version 4) UUIDs cut from a pool of the kernel's bytes.

`uuid.uuid4()` asks the kernel for 16 bytes each time, and CPython lets go of the GIL
for that call: under createPost load the event loop, having let go, waited for the
group-commit writer thread to hand the GIL back for every id it made (py-spy: uuid4
was 7.8% of the serving process's samples, for three ids a request that cost 2.7 µs
each alone). Reading 4 KiB at a time takes the same randomness from the same source,
with one release of the GIL per 256 ids.
"""

from __future__ import annotations

import os
import threading
import uuid

POOL_BYTES = 4_096


class _Pool(threading.local):
    """Each thread cuts from its own bytes: no lock, and no id handed out twice."""

    def __init__(self) -> None:
        self.empty()

    def empty(self) -> None:
        self.data, self.offset = b"", 0

    def take(self) -> bytes:
        if self.offset + 16 > len(self.data):
            self.data, self.offset = os.urandom(POOL_BYTES), 0
        start = self.offset
        self.offset = start + 16
        return self.data[start : start + 16]


_pool = _Pool()
# A forked child must not cut the parent's remaining bytes again: it draws its own.
os.register_at_fork(after_in_child=_pool.empty)


def uuid4() -> uuid.UUID:
    return uuid.UUID(bytes=_pool.take(), version=4)
