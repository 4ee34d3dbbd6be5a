"""Who holds a rebuild lock, told in words an operator understands.

A lease's holder id (lease.py) is `<log identity>@<host>:<pid>:<token>:<role>`, the role
saying what the process is. A projector rebuilds a projection on its own when it finds
its read models lost, half-applied or past the log's head (ProjectionRunner); an
operator's `inkwell rebuild` refused beside it used to print only the id, and whoever
read it had to know that its pid was the projector's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PROJECTOR = "projector"
REBUILD_COMMAND = "rebuild"

_HOLDER = re.compile(
    r"(?P<log>[^@]*)@(?P<host>[^:]*):(?P<pid>\d+):(?P<token>[0-9a-f]+)(?::(?P<role>[\w-]+))?"
)


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    role: str  # PROJECTOR, REBUILD_COMMAND, or "" (a holder from before roles)

    @staticmethod
    def parse(holder: str) -> Holder | None:
        found = _HOLDER.fullmatch(holder)
        if found is None:
            return None
        return Holder(found["host"], int(found["pid"]), found["role"] or "")


def who(holder: str) -> str:
    """Who holds a rebuild lock, in a few words."""
    parsed = Holder.parse(holder)
    if parsed is None:
        return repr(holder)
    where = f"process {parsed.pid} on host {parsed.host}"
    if parsed.role == PROJECTOR:
        return f"the projector ({where}), on its own"
    if parsed.role == REBUILD_COMMAND:
        return f"an `inkwell rebuild` ({where})"
    return where


def rebuilding(holder: str | None) -> str:
    """Who holds a projection's rebuild lock, as the rest of a sentence about it."""
    if holder is None:
        return "its holder let it go a moment ago"
    parsed = Holder.parse(holder)
    if parsed is not None and parsed.role == PROJECTOR:
        return (
            f"the projector (process {parsed.pid} on host {parsed.host}) is rebuilding it on "
            "its own, as it does when it finds the read models lost, half-applied or past "
            "the log's head (its log says which), and swaps the new ones in when done"
        )
    return f"{who(holder)} is rebuilding it"
