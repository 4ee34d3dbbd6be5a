"""A small HTTP/1.1 load generator for loopback benchmarks: keep-alive connections, each
sending one prepared request after another, bounded in time and in count.

It does no more than a benchmark needs (Content-Length bodies, no chunking, no TLS) so
that one process can drive a Python server far past its ceiling: the generator must
never be what a figure measures. Every answer is checked: a status other than 200, or a
GraphQL `errors` member, fails the run rather than counting as served.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import orjson


@dataclass
class Load:
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


# Seconds of load before the clock starts: connections open, caches warm.
WARMUP = 0.5


class BadAnswer(RuntimeError):
    pass


def graphql_request(
    port: int, query: str, variables: dict[str, object] | None = None, token: str | None = None
) -> bytes:
    """The bytes of one POST /graphql, ready to send again and again."""
    body = orjson.dumps({"query": query, "variables": variables or {}})
    headers = [
        "POST /graphql HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        "Accept: application/json",
        f"Content-Length: {len(body)}",
    ]
    if token:
        headers.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


async def _answer(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    status = head[9:12]
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length)
    if status != b"200" or b'"errors"' in body:
        raise BadAnswer(f"{head.decode(errors='replace')}{body[:500]!r}")
    return body


async def hammer(
    port: int,
    request: bytes,
    *,
    connections: int = 32,
    seconds: float = 3.0,
    max_requests: int = 200_000,
    warmup: float = WARMUP,
) -> Load:
    """Sends `request` over `connections` keep-alive connections for `seconds` (after
    `warmup` seconds that are not counted), or until `max_requests` answers."""
    load = Load()
    started = time.perf_counter()
    measuring_from = started + warmup
    deadline = measuring_from + seconds
    last = measuring_from

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while load.requests < max_requests:
                sent = time.perf_counter()
                if sent >= deadline:
                    return
                writer.write(request)
                await _answer(reader)
                answered = time.perf_counter()
                if sent >= measuring_from:
                    load.requests += 1
                    load.latencies.append(answered - sent)
                    nonlocal last
                    last = max(last, answered)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    load.seconds = last - measuring_from
    return load
