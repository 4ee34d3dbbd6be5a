"""What can go wrong with a projector batch, as exceptions a caller can act on.

Redis does not roll back a MULTI when one of its commands fails: the others,
the checkpoint included, still apply. So every reply is checked, and a batch with
an error counts as failed: its space is suspect and is rebuilt, and the events
the failing commands belonged to are named, for the poison path to park.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.ports import RecordedEvent
from projections.projectors.holders import rebuilding


class BatchFailed(Exception):
    """Redis refused some commands of a batch. `events` are those whose commands failed
    (all of the batch when the failure cannot be pinned on one)."""

    def __init__(
        self,
        projection: str,
        events: Sequence[RecordedEvent],
        errors: Sequence[str],
        ran: bool = True,
    ):
        """`ran`: whether the rest of the batch ran. A command refused as it was queued
        (out of memory, say) has Redis run none of them (EXECABORT): operators read "refused
        N commands" as half a batch written."""
        positions = ", ".join(str(e.position) for e in events[:10])
        outcome = "the rest ran" if ran else "so none of it ran (EXECABORT)"
        super().__init__(
            f"projection {projection}: Redis refused {len(errors)} commands of the batch, "
            f"{outcome} (events at {positions}): {errors[0]}"
        )
        self.projection = projection
        self.events = list(events)
        self.errors = list(errors)


class SpaceLost(Exception):
    """A space being built lost its checkpoint: Redis was flushed or restarted empty."""


class RebuildRunning(Exception):
    """Another rebuild of the projection holds its rebuild lease."""

    def __init__(self, projection: str, holder: str | None) -> None:
        super().__init__(
            f"a rebuild of {projection} is already running: {rebuilding(holder)}"
            + (f" (lock holder {holder})" if holder else "")
        )
        self.projection = projection
        self.holder = holder


def failed_replies(
    projection: str,
    replies: Sequence[object],
    owners: Sequence[RecordedEvent | None],
    ran: bool = True,
) -> BatchFailed | None:
    """The failure in a pipeline's replies, if any. `owners[i]` is the event command i
    was queued for (None for the batch's own bookkeeping); `ran`, whether EXEC ran the
    commands Redis did not refuse."""
    errors = [(i, reply) for i, reply in enumerate(replies) if isinstance(reply, Exception)]
    if not errors:
        return None
    events = {id(e): e for i, _ in errors if (e := owners[i] if i < len(owners) else None)}
    named = sorted(events.values(), key=lambda e: e.position)
    everything = [e for e in owners if e is not None]
    return BatchFailed(
        projection,
        named or sorted({id(e): e for e in everything}.values(), key=lambda e: e.position),
        [f"{type(reply).__name__}: {reply}" for _, reply in errors],
        ran,
    )
