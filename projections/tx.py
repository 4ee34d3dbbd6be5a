"""The write side of one projector batch: a Redis MULTI pipeline plus the names and scripts it needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio.client import Pipeline
from redis.commands.core import AsyncScript

from projections.keys import Keys
from projections.scripts import Scripts


@dataclass
class Tx:
    pipe: Pipeline
    keys: Keys
    scripts: Scripts

    def run(self, script: AsyncScript, keys: Sequence[str], args: Sequence[str | int]) -> None:
        """Queues a script call. The pipeline loads missing scripts before MULTI, so a
        Redis that restarted and forgot them cannot fail half of a transaction."""
        self.pipe.scripts.add(script)
        self.pipe.evalsha(script.sha, len(keys), *keys, *args)

    def queued(self) -> int:
        return len(self.pipe.command_stack)

    def discard_after(self, mark: int) -> None:
        """Drops what was queued after `mark`: the commands of an event that failed to apply."""
        del self.pipe.command_stack[mark:]
