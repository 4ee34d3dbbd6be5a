"""The event at a projection's checkpoint, named beside the checkpoint.

A checkpoint past the log's head tells that the log went back (runner.catch_up). But a
log restored from an older backup and written since soon has its head past the
checkpoint again: the new events take positions the old ones had, the projector sees
positions it has passed and skips them, and goes on from its checkpoint on top of read
models holding events the log no longer has. An outside probe wrote 40 comments in the
2 s after a pg_restore: /ready said ready, and `verify` found 25 keys differing, for good.

The event at the checkpoint's position tells the two logs apart: each batch's
confirmation (lua/confirm_batch.lua) and each rebuild's swap record who wrote it, and a
catch-up compares that with the log before it reads on.
"""

from __future__ import annotations

from domain.ports import EventLog, RecordedEvent


def mark(recorded: RecordedEvent) -> str:
    """The position, then what names the event there in any log: its stream, its version
    in the stream, and the command that wrote it (an id no other command has)."""
    return f"{recorded.position} {recorded.stream_id} {recorded.version} {recorded.command_id}"


def of_checkpoint(recorded: str | None, checkpoint: int) -> bool:
    """Whether a recorded mark names the event at this checkpoint. Without one (none yet,
    or one an older version left at another position) nothing says the log went back."""
    return recorded is not None and checkpoint > 0 and recorded.startswith(f"{checkpoint} ")


async def log_holds(log: EventLog, checkpoint: int, recorded: str | None) -> bool:
    """Whether the log still has, at the checkpoint, the event the recorded mark names."""
    if recorded is None or not of_checkpoint(recorded, checkpoint):
        return True
    found = await log.at([checkpoint])
    return bool(found) and mark(found[0]) == recorded
