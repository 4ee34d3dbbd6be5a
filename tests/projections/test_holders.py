"""Who holds a rebuild lock, told from its holder id in words an operator understands."""

from __future__ import annotations

import os
import socket

from projections.projectors.failures import RebuildRunning
from projections.projectors.holders import PROJECTOR, REBUILD_COMMAND, Holder, rebuilding, who
from projections.projectors.lease import holder_id

LOG = "0123456789abcdef0123456789abcdef"
HERE = f"process {os.getpid()} on host {socket.gethostname()}"


def test_a_holder_id_names_the_process_and_its_role() -> None:
    assert Holder.parse(holder_id(LOG, PROJECTOR)) == Holder(
        socket.gethostname(), os.getpid(), PROJECTOR
    )
    assert Holder.parse(holder_id(LOG)) == Holder(socket.gethostname(), os.getpid(), "")
    assert Holder.parse(f"{LOG}@web-1:10673:0a1b2c3d") == Holder("web-1", 10673, "")
    assert Holder.parse("another process") is None


def test_a_refused_rebuild_says_who_is_rebuilding() -> None:
    """It printed only the id: `a rebuild of posts is already running (…:10673:…)`."""
    by_projector = str(RebuildRunning("posts", holder_id(LOG, PROJECTOR)))
    assert by_projector.startswith(
        f"a rebuild of posts is already running: the projector ({HERE}) is rebuilding it on "
        "its own, as it does when it finds the read models lost, half-applied or past the "
        "log's head"
    )
    assert (
        rebuilding(holder_id(LOG, REBUILD_COMMAND))
        == f"an `inkwell rebuild` ({HERE}) is rebuilding it"
    )
    assert rebuilding(holder_id(LOG)) == f"{HERE} is rebuilding it"
    assert rebuilding("another process") == "'another process' is rebuilding it"
    assert rebuilding(None) == "its holder let it go a moment ago"
    assert who(holder_id(LOG, PROJECTOR)) == f"the projector ({HERE}), on its own"
