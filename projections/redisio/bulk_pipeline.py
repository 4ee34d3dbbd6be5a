"""Runs a batch of commands as one write and reads all the replies in bulk.

redis-py's pipeline handles each reply on its own: a timeout context, a parser call
and a response callback per reply topped the rebuild's profile (17 commands per
event). A rebuild's batch needs none of that: its replies are only checked for
errors, and its last one read. So the batch is packed by hiredis, sent in one write
on a connection of the pool, and every reply is parsed by one hiredis.Reader fed
whatever bytes arrive, under one timeout for the whole batch. `sent` hands the batch
back while Redis runs it, so the caller can queue the next one meanwhile: on two
cores, Python and Redis work at once.

hiredis.pack_command writes the bytes redis-py's packer writes (checked in
tests/projections/test_packed_redis.py) at about a tenth of its cost, which counts
at hundreds of thousands of commands a rebuild.

A reply is what hiredis decodes, with no response callback (ZADD INCR's score stays
a string); an error reply is the exception redis-py would raise for it (a
ResponseError), in its place. The scripts the batch calls are loaded at its head,
in the same write, so no EVALSHA can meet NOSCRIPT. A connection that fails, times
out or is cancelled mid-batch is disconnected before it goes back to the pool: its
unread replies die with it.

A runner's batch goes the same way as one MULTI/EXEC (`transaction`), on the
connection that holds its WATCH: redis-py's transaction parsed every QUEUED reply and
then the EXEC array one reply at a time, each under its own timeout context.

Reading the connection's stream (`Connection._reader`) is this module's one use of
redis-py's internals: redis-py has no public way to read raw replies in bulk.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import hiredis
from redis._parsers import BaseParser
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.commands.core import AsyncScript
from redis.exceptions import (
    ConnectionError,
    ExecAbortError,
    InvalidResponse,
    RedisError,
    WatchError,
)
from redis.exceptions import TimeoutError as RedisTimeoutError

from projections.redisio.cancellation import complete
from projections.redisio.checked_pools import CHECKED

READ_SIZE = 1 << 16
_INCOMPLETE = object()  # what Reader.gets() returns until a whole reply has arrived


def private_pool(redis: Redis) -> ConnectionPool:
    """A pool of its own on `redis`'s server: a batch holds its connection until every
    reply is read, and should not hold one of the app's bounded pool that long."""
    pool = redis.connection_pool
    return ConnectionPool(
        connection_class=pool.connection_class, **{**pool.connection_kwargs, **CHECKED}
    )


class NotRun(ExecAbortError):
    """Redis ran none of a MULTI's commands: it refused one as it was queued. `replies`
    has one per command, a refusal or "QUEUED"."""

    def __init__(self, replies: list[object]) -> None:
        super().__init__("EXECABORT: Redis refused a command as it was queued; none ran")
        self.replies = replies


@dataclass(frozen=True)
class Packed:
    """A batch's bytes: its scripts' loading at the head, then its commands."""

    request: bytes
    loads: int
    count: int


def pack(commands: Sequence[tuple[Any, ...]], scripts: Iterable[AsyncScript] = ()) -> Packed:
    """Packs a batch ahead of sending it: a rebuild packs its next batch while Redis
    still runs the one before, instead of between the two."""
    loads = [("SCRIPT", "LOAD", script.script) for script in scripts]
    return Packed(packed([*loads, *commands]), len(loads), len(commands))


async def execute(
    pool: ConnectionPool,
    commands: Sequence[tuple[Any, ...]],
    scripts: Iterable[AsyncScript] = (),
    timeout: float | None = None,
) -> list[object]:
    """The replies to `commands`, one each, in order: see `sent`."""
    async with sent(pool, pack(commands, scripts), timeout) as batch:
        return await batch.replies()


@contextlib.asynccontextmanager
async def sent(
    pool: ConnectionPool, batch: Packed, timeout: float | None = None
) -> AsyncIterator[InFlight]:
    """Sends the batch; the block may work on while Redis runs it, then reads its
    replies. A block left without reading them waits for them first (so nothing of
    the batch lands after the caller's cleanup), unless the connection failed.
    Raises ConnectionError or TimeoutError (redis-py's) if the connection fails or
    the batch, sent and answered, outlasts `timeout`."""
    connection = await pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        async with _sent_on(connection, batch, timeout) as in_flight:
            yield in_flight
    finally:
        await pool.release(connection)


async def run(
    connection: AbstractConnection,
    commands: Sequence[tuple[Any, ...]],
    scripts: Iterable[AsyncScript] = (),
    timeout: float | None = None,
) -> list[object]:
    """The replies to `commands`, as `execute`'s, sent on a connection the caller holds
    (one that watches keys, say) and leaves as it found it, with no reply left to read;
    disconnected if the batch failed, timed out or was cancelled on the way."""
    async with _sent_on(connection, pack(commands, scripts), timeout) as batch:
        return await batch.replies()


async def transaction(
    connection: AbstractConnection,
    commands: Sequence[tuple[Any, ...]],
    scripts: Iterable[AsyncScript] = (),
    timeout: float | None = None,
) -> list[object]:
    """Runs `commands` in one MULTI/EXEC on `connection` (which may hold a WATCH: a
    redis-py pipeline's, after `watch`), sent in one write with the scripts' loading
    ahead of the MULTI, and returns EXEC's replies, errors in place. Raises WatchError,
    having applied nothing, when a watched key changed. When Redis refused a command
    as it was queued, it ran none of them (EXECABORT): NotRun then carries the replies
    of the queueing, the refusals in place ("QUEUED" for the others), or the EXECABORT
    error for every command when none was refused. Afterwards the connection watches
    nothing and has no reply left to read; it is disconnected if the batch failed,
    timed out or was cancelled on the way."""
    transacted = [("MULTI",), *commands, ("EXEC",)]
    multi, *queued, replies = await run(connection, transacted, scripts, timeout)
    if isinstance(multi, Exception):
        raise multi
    if replies is None:  # EXEC's null array
        raise WatchError("Watched variable changed.")
    if isinstance(replies, ExecAbortError):
        refused = any(isinstance(reply, Exception) for reply in queued)
        raise NotRun(queued if refused else [replies] * len(commands))
    if isinstance(replies, Exception):
        raise replies
    if not isinstance(replies, list) or len(replies) != len(commands):
        await connection.disconnect(nowait=True)
        raise InvalidResponse(f"EXEC answered {replies!r} to {len(commands)} commands")
    return replies


@contextlib.asynccontextmanager
async def _sent_on(
    connection: AbstractConnection, packed_batch: Packed, timeout: float | None
) -> AsyncIterator[InFlight]:
    batch = InFlight(connection, packed_batch.loads, packed_batch.count, timeout)
    try:
        await batch.send(packed_batch.request)
        yield batch
    finally:
        if batch.pending:
            await complete(batch.discard())


class InFlight:
    """A batch sent on a connection and not yet answered."""

    def __init__(
        self, connection: AbstractConnection, loads: int, count: int, timeout: float | None
    ) -> None:
        self._connection = connection
        self._loads = loads
        self._count = count
        self._timeout = timeout
        self._deadline: float | None = None
        self.pending = True  # replies still on the connection, to read or to wait for

    async def send(self, request: bytes) -> None:
        if self._timeout is not None:
            self._deadline = asyncio.get_running_loop().time() + self._timeout
        async with self._bounded():
            await self._connection.send_packed_command(request, check_health=False)

    async def replies(self) -> list[object]:
        """The replies, one per command; raises the first error of a script's loading."""
        async with self._bounded():
            replies = await _read(self._connection, self._loads + self._count)
        self.pending = False
        for reply in replies[: self._loads]:
            if isinstance(reply, Exception):
                raise reply
        return replies[self._loads :]

    async def discard(self) -> None:
        with contextlib.suppress(RedisError):
            await self.replies()

    @contextlib.asynccontextmanager
    async def _bounded(self) -> AsyncIterator[None]:
        """Within the batch's deadline; the connection is disconnected (its state
        unknown, its replies dropped) if the block fails."""
        try:
            async with asyncio.timeout_at(self._deadline):
                yield
        except TimeoutError as error:  # asyncio's; redis-py's is a RedisError
            await self._disconnect()
            took = f"a batch of {self._count} commands took over {self._timeout} s"
            raise RedisTimeoutError(took) from error
        except OSError as error:
            # The stream read is the socket's own: a reset came through as a bare
            # ConnectionResetError, which no caller takes for an outage (a query read
            # while Redis restarted answered INTERNAL_SERVER_ERROR, not UNAVAILABLE).
            # redis-py's own reads wrap it the same way.
            await self._disconnect()
            raise ConnectionError(f"Error while reading from Redis: {error}") from error
        except BaseException:
            await self._disconnect()
            raise

    async def _disconnect(self) -> None:
        self.pending = False
        await self._connection.disconnect(nowait=True)


def packed(commands: Iterable[tuple[Any, ...]]) -> bytes:
    """The commands' RESP bytes, one after the other."""
    return b"".join(map(hiredis.pack_command, commands))


async def _read(connection: AbstractConnection, count: int) -> list[object]:
    stream = connection._reader  # see the module's docstring
    if stream is None:
        raise ConnectionError("the connection closed before its replies were read")
    encoder = connection.encoder
    reader = hiredis.Reader(
        protocolError=InvalidResponse,
        replyError=BaseParser.parse_error,
        notEnoughData=_INCOMPLETE,
        **({"encoding": encoder.encoding} if encoder.decode_responses else {}),
        errors=encoder.encoding_errors,
    )
    replies: list[object] = []
    while len(replies) < count:
        data = await stream.read(READ_SIZE)
        if not data:
            raise ConnectionError(f"Redis closed the connection after {len(replies)} replies")
        reader.feed(data)
        while (reply := reader.gets()) is not _INCOMPLETE:
            replies.append(reply)
    if len(replies) > count:
        raise InvalidResponse(f"{len(replies)} replies to {count} commands")
    return replies
