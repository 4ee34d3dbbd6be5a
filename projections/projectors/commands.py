"""The commands a projector batch queues, as argument tuples: cheap to append.

redis-py's Pipeline methods check and encode every call's arguments and file an
(args, options) pair per command, about 1.5 µs a command; with replies read in bulk
that was the largest cost left in a rebuild, at 17 commands an event. This buffer
takes the same arguments as Pipeline's methods, for the few commands projections
queue, and appends one tuple (about 0.3 µs). A rebuild's batch and a runner's MULTI
send the tuples as they are (projections/redisio/bulk_pipeline.py); a retry and a
skip replay them into their MULTI (`replay`), where redis-py parses the replies as ever.
"""

from __future__ import annotations

from collections.abc import Mapping

from redis.asyncio.client import Pipeline
from redis.commands.core import AsyncScript

Value = str | bytes | int | float
Scores = Mapping[str, float] | Mapping[bytes, float]
_AS_SCORE = {"as_score": True}  # how redis-py reads ZADD INCR's reply


class Commands:
    def __init__(self) -> None:
        self.stack: list[tuple[Value, ...]] = []
        self.scripts: set[AsyncScript] = set()  # those EVALSHA calls: loaded before the batch
        self._scored: set[int] = set()  # the ZADD INCRs in the stack, by index

    def discard_after(self, mark: int) -> None:
        del self.stack[mark:]
        self._scored = {i for i in self._scored if i < mark}

    def replay(self, pipe: Pipeline) -> None:
        """Queues the commands, in order, on a redis-py pipeline (in MULTI, for a
        transaction)."""
        pipe.scripts.update(self.scripts)  # type: ignore[arg-type]  # async Scripts, in truth
        for i, args in enumerate(self.stack):
            pipe.execute_command(*args, **(_AS_SCORE if i in self._scored else {}))

    def zadd(self, name: str, mapping: Scores, xx: bool = False, incr: bool = False) -> None:
        if len(mapping) == 1 and not (xx or incr):  # nearly every call: a rebuild's most frequent
            for member, score in mapping.items():
                self.stack.append(("ZADD", name, score, member))
            return
        flags = ("XX",) * xx + ("INCR",) * incr
        if incr:
            self._scored.add(len(self.stack))
        pairs = [item for member, score in mapping.items() for item in (score, member)]
        self.stack.append(("ZADD", name, *flags, *pairs))

    def zrem(self, name: str, *members: Value) -> None:
        self.stack.append(("ZREM", name, *members))

    def sadd(self, name: str, *values: Value) -> None:
        self.stack.append(("SADD", name, *values))

    def srem(self, name: str, *values: Value) -> None:
        self.stack.append(("SREM", name, *values))

    def hset(
        self,
        name: str,
        key: str | None = None,
        value: Value | None = None,
        mapping: Mapping[str, Value] | None = None,
    ) -> None:
        pairs = [] if key is None or value is None else [key, value]
        pairs += [item for pair in (mapping or {}).items() for item in pair]
        self.stack.append(("HSET", name, *pairs))

    def hsetnx(self, name: str, key: str, value: Value) -> None:
        self.stack.append(("HSETNX", name, key, value))

    def hincrby(self, name: str, key: str, amount: int = 1) -> None:
        self.stack.append(("HINCRBY", name, key, amount))

    def hdel(self, name: str, *keys: str) -> None:
        self.stack.append(("HDEL", name, *keys))

    def set(self, name: str, value: Value) -> None:
        self.stack.append(("SET", name, value))

    def delete(self, *names: str) -> None:
        self.stack.append(("DEL", *names))

    def publish(self, channel: str, message: Value) -> None:
        self.stack.append(("PUBLISH", channel, message))

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: Value) -> None:
        self.stack.append(("EVALSHA", sha, numkeys, *keys_and_args))
