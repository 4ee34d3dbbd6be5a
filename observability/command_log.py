"""One log line per command: what was asked, under which ids, how it ended and how long it took.

With the request id on the same line (it is the correlation id), this is the
link from a request to the events its command appended and the projector lines
that applied them.
"""

from __future__ import annotations

import logging

from domain.ports import CommandRecord, Outcome

log = logging.getLogger("inkwell.commands")


class CommandLog:
    def handled(self, record: CommandRecord, result: Outcome | Exception, seconds: float) -> None:
        """The command bus's observer."""
        fields = {
            "command_id": record.command_id,
            "command_type": record.command_type,
            "correlation_id": record.correlation_id,
            "actor_id": record.actor_id,
            "duration_ms": round(seconds * 1000, 2),
        }
        if isinstance(result, Outcome):
            log.info(
                "%s %s ok at position %d",
                record.command_type,
                record.command_id,
                result.position,
                extra={**fields, "outcome": "ok", "position": result.position},
            )
        else:
            outcome = type(result).__name__
            log.info(
                "%s %s not done: %s",
                record.command_type,
                record.command_id,
                outcome,
                extra={**fields, "outcome": outcome, "reason": _reason(result)},
            )


# A domain refusal's message is one short line. A database error's text goes on with the
# statement and its parameters: a post's whole content in a log line per failed write,
# for as long as an outage lasts.
REASON_MAX = 300


def _reason(error: Exception) -> str:
    return str(error).partition("\n")[0][:REASON_MAX]
