"""The Redis clients of a running Inkwell: which server, and a pool for each kind of work.

Commands and projectors write the primary; queries, subscriptions and read-your-writes
waits read a pool of their own (a replica, when REDIS_READ_URL names one), so no query
can take the connections projectors need to keep their leases. What requests write
(rate-limit counts, persisted queries) goes to the primary on a small pool of its own.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import BlockingConnectionPool, Redis

from infra import embedded_redis
from infra.embedded_redis import EmbeddedRedis
from infra.redis_policy import check_eviction_policy
from infra.settings import Settings
from observability.faults import CountingRetry
from observability.metrics import Metrics
from projections.projectors.packed_redis import pack_in_c
from projections.readers.batched_reads import BatchedReads

log = logging.getLogger("inkwell")

REDIS_CONNECTIONS = 64
REQUEST_WRITE_CONNECTIONS = 16
# Attempts after a failed one on the pools that answer requests (`reads`, `requests`):
# enough for a connection that Redis dropped (a restart) to be replaced, about 0.1 s.
# redis-py's default of 10 held every request 3.4 s per call while Redis was down (a
# query 8 s, a mutation 10 s, the rate limits' calls included), where a client would
# rather hear UNAVAILABLE at once. Projectors and live topics retry in their own loops.
REQUEST_RETRIES = 3


@dataclass(frozen=True)
class RedisClients:
    url: str  # the primary's
    primary: Redis  # commands, projectors, persisted queries
    reads: Redis  # queries, subscriptions, read-your-writes waits
    batched_reads: BatchedReads  # queries' hashes, on the server `reads` reads
    listener: Redis  # the one pub/sub connection, on the same server as `reads`
    requests: Redis  # rate-limit counts, persisted queries: on the primary


def embedded(stack: AsyncExitStack, data_dir: Path) -> str:
    """The first process on a data directory starts its Redis; the others (`seed`, a
    second `serve`) use that one, so they all see the same read models."""
    if url := embedded_redis.running_in(data_dir):
        log.info("using the embedded Redis at %s", url)
        return url
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
    answering = CountingRetry(metrics.redis_error, retries=REQUEST_RETRIES)
    reads = await stack.enter_async_context(pool(read_url, f"{settings.prefix}:reads", answering))
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
        pool(url, f"{settings.prefix}:requests", answering, REQUEST_WRITE_CONNECTIONS)
    )
    return RedisClients(url, primary, reads, batched_reads, listener, requests)


@asynccontextmanager
async def pool(
    url: str, name: str, retry: CountingRetry, connections: int = REDIS_CONNECTIONS
) -> AsyncIterator[Redis]:
    """A client on a bounded pool: thousands of subscribers reading at once wait for a
    connection instead of opening thousands."""
    connection_pool = BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        max_connections=connections,
        timeout=10,
        client_name=name,
        retry=retry,
    )
    pack_in_c(connection_pool)  # commands packed in C (projections/projectors/packed_redis.py)
    client = Redis(connection_pool=connection_pool)
    try:
        yield client
    finally:
        await client.aclose()
        await connection_pool.aclose()
