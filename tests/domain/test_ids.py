"""The server's ids (domain/ids.py): version 4 UUIDs, never one twice, in threads or in a
forked child."""

from __future__ import annotations

import os
import threading
import uuid

from domain import ids


def test_ids_are_version_4_uuids_and_never_repeat_across_pool_refills() -> None:
    made = [ids.uuid4() for _ in range(3 * ids.POOL_BYTES // 16 + 5)]
    assert all(made_id.version == 4 and made_id.variant == uuid.RFC_4122 for made_id in made)
    assert len(set(made)) == len(made)


def test_threads_never_make_the_same_id() -> None:
    made: list[list[uuid.UUID]] = [[] for _ in range(8)]

    def make(into: list[uuid.UUID]) -> None:
        into.extend(ids.uuid4() for _ in range(2_000))

    threads = [threading.Thread(target=make, args=(into,)) for into in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [made_id for into in made for made_id in into]
    assert len(set(every)) == len(every) == 16_000


def test_a_forked_child_does_not_make_the_ids_its_parent_makes_next() -> None:
    ids.uuid4()  # the pool holds bytes the parent has not cut yet
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: reports through the pipe and exits
        os.write(write, b"".join(ids.uuid4().bytes for _ in range(10)))
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        theirs = pipe.read()
    os.waitpid(child, 0)
    ours = b"".join(ids.uuid4().bytes for _ in range(10))
    assert len(theirs) == 160
    assert {theirs[i : i + 16] for i in range(0, 160, 16)}.isdisjoint(
        {ours[i : i + 16] for i in range(0, 160, 16)}
    )
