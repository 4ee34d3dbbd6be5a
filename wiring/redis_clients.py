"""The Redis clients of a running Inkwell: which server, and a pool for each kind of work.

Commands and projectors write the primary; queries, subscriptions and read-your-writes
waits read a pool of their own (a replica, when REDIS_READ_URL names one), so no query
can take the connections projectors need to keep their leases. What requests write
(rate-limit counts, persisted queries) goes to the primary on a small pool of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from infra import embedded_redis
from infra.embedded_redis import EmbeddedRedis
from infra.redis_policy import check_eviction_policy
from infra.settings import Settings
from observability.faults import CountingRetry
from observability.metrics import Metrics
from projections.projectors.packed_redis import pack_in_c
from projections.readers.batched_reads import BatchedReads
from projections.redisio.checked_pools import CHECKED

REDIS_CONNECTIONS = 64
REQUEST_WRITE_CONNECTIONS = 16
# The pools that answer requests (`reads`, `requests`) give up soon, so that a client
# hears UNAVAILABLE instead of waiting; projectors and live topics retry in their own
# loops. Three attempts after a refused or dropped connection: enough for one that
# Redis dropped in a restart to be replaced, about 0.1 s. redis-py's default of ten
# held every request 3.4 s a call while Redis was down (a query 8 s, a mutation 10 s,
# the rate limits' calls included). A reply past its deadline is not tried again.
REQUEST_RETRIES = 3
# How long a request waits to connect, and for a reply: without a deadline a frozen
# Redis (SIGSTOP, a partition that drops packets) held a query 40 s and a mutation over
# a minute, in rate limits that would let it through anyway. The rate limits and
# persisted queries wait least: a query's page is larger, and Redis slower under load.
CONNECT_SECONDS = 1.0
READ_REPLY_SECONDS = 3.0
REQUEST_WRITE_REPLY_SECONDS = 1.0


@dataclass(frozen=True)
class RedisClients:
    url: str  # the primary's
    primary: Redis  # commands, projectors, persisted queries
    reads: Redis  # queries, subscriptions, read-your-writes waits
    batched_reads: BatchedReads  # queries' hashes, on the server `reads` reads
    listener: Redis  # the one pub/sub connection, on the same server as `reads`
    requests: Redis  # rate-limit counts, persisted queries: on the primary


def embedded(stack: ExitStack | AsyncExitStack, data_dir: Path) -> str:
    """The first process on a data directory starts its Redis; the others (`seed`, a
    second `serve`) use that one, so they all see the same read models, and start it
    again should it stop with its owner (infra/embedded_redis.py)."""
    with embedded_redis.starting_in(data_dir):
        return stack.enter_context(EmbeddedRedis(data_dir))


async def open_clients(
    stack: AsyncExitStack, url: str, settings: Settings, metrics: Metrics
) -> RedisClients:
    retry = CountingRetry(metrics.redis_error)
    primary = await stack.enter_async_context(pool(url, f"{settings.prefix}:commands", retry))
    await check_eviction_policy(primary, production=settings.production)
    # The pub/sub connection reads where queries read: Redis replicates PUBLISH in order
    # with the writes, so a change notice never arrives before the data it announces.
    read_url = settings.redis_read_url or url
    answering = CountingRetry(
        metrics.redis_error, retries=REQUEST_RETRIES, supported_errors=(RedisConnectionError,)
    )
    reads = await stack.enter_async_context(
        pool(read_url, f"{settings.prefix}:reads", answering, reply_seconds=READ_REPLY_SECONDS)
    )
    batched_reads = BatchedReads(reads)
    stack.push_async_callback(batched_reads.aclose)
    # Pub/sub blocks between messages: no read timeout on its connection.
    listener = Redis.from_url(
        read_url,
        decode_responses=True,
        socket_timeout=None,
        client_name=f"{settings.prefix}:pubsub",
        # No silent reconnects: Broadcast must see each drop (projections/live/broadcast.py).
        retry=CountingRetry(metrics.redis_error, retries=0),
    )
    stack.push_async_callback(listener.aclose)
    requests = await stack.enter_async_context(
        pool(
            url,
            f"{settings.prefix}:requests",
            answering,
            REQUEST_WRITE_CONNECTIONS,
            reply_seconds=REQUEST_WRITE_REPLY_SECONDS,
        )
    )
    return RedisClients(url, primary, reads, batched_reads, listener, requests)


@asynccontextmanager
async def pool(
    url: str,
    name: str,
    retry: CountingRetry,
    connections: int = REDIS_CONNECTIONS,
    reply_seconds: float | None = None,
) -> AsyncIterator[Redis]:
    """A client on a bounded pool: thousands of subscribers reading at once wait for a
    connection instead of opening thousands. With `reply_seconds`, a request pool's:
    connections and replies have deadlines (see CONNECT_SECONDS)."""
    deadlines = (
        {"socket_timeout": reply_seconds, "socket_connect_timeout": CONNECT_SECONDS}
        if reply_seconds is not None
        else {}
    )
    connection_pool = BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        max_connections=connections,
        timeout=10,
        client_name=name,
        retry=retry,
        **deadlines,
        **CHECKED,
    )
    pack_in_c(connection_pool)  # commands packed in C (projections/projectors/packed_redis.py)
    client = Redis(connection_pool=connection_pool)
    try:
        yield client
    finally:
        await client.aclose()
        await connection_pool.aclose()
