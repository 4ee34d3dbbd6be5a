"""INKWELL_* variables in the environment that no setting reads: a misspelled name
(`INKWELL_RATELIMITS=off`, `INKWELL_LEASE_SECOND=5`) did nothing, and nothing said so
(an outside probe). Settings.from_env is given the environment through Reads, which notes
each name it looks up; whatever else starts with INKWELL_ is named in a warning, with the
setting it most resembles."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping

PREFIX = "INKWELL_"
# The test suite's own variables (README, "Tests"), read by no server.
TEST_SUITE = ("INKWELL_TEST_", "INKWELL_DOCS_")


class Reads(Mapping[str, str]):
    """An environment that notes the names looked up in it (`get`, `in` and `[]` all go
    through __getitem__)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.names: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.names.add(name)
        return self._env[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._env)

    def __len__(self) -> int:
        return len(self._env)


def unread(reads: Reads) -> list[str]:
    """A line for each INKWELL_ variable that was set and never looked up."""
    known = sorted(name[len(PREFIX) :] for name in reads.names if name.startswith(PREFIX))
    lines = []
    for name in sorted(reads):
        if not name.startswith(PREFIX) or name in reads.names or name.startswith(TEST_SUITE):
            continue
        close = difflib.get_close_matches(name[len(PREFIX) :], known, n=1, cutoff=0.75)
        hint = f" (did you mean {PREFIX}{close[0]}?)" if close else ""
        lines.append(f"{name} is set, and no setting has that name: it does nothing{hint}")
    return lines
