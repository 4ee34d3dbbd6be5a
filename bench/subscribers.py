"""The benchmark's subscribers: one client process holding many `post(id)` subscriptions.

It speaks graphql-transport-ws directly over `websockets` (no GraphQL client
library in between), at most 100 subscriptions per connection (strawberry's
limit), and timestamps each item as it is read off the socket. Counters in
shared memory tell the driver how many first items and updates have arrived.
"""

from __future__ import annotations

import asyncio
import sys
import time
from ctypes import c_longlong
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event

import orjson
import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

PER_CONNECTION = 100
SUBSCRIPTION = (
    "subscription($id: ID!) { post(id: $id) { id likeCount commentCount title author { name } } }"
)

# One received update: (subscriber number, post id, likeCount, monotonic receipt time).
Receipt = tuple[int, str, int, float]


@dataclass
class Counters:
    """Written by this process only, read by the driver: no lock needed."""

    first: c_longlong  # subscriptions that received their first item (the state now)
    updates: c_longlong  # items received after the first


@dataclass(frozen=True)
class Assignment:
    url: str  # ws://host:port/graphql
    token: str
    posts: list[tuple[int, str]]  # (subscriber number, post id), one per subscription
    burst: bool  # open every connection at once, rather than one after the other
    # Name each subscription's operation differently, so that the server cannot share
    # one execution among them: the per-subscriber baseline of schema/multiplex.py.
    distinct: bool = False


def run(assignment: Assignment, counters: Counters, stop: Event, results: Connection) -> None:
    """A process's entry point: subscribes, records until `stop`, sends the receipts back."""
    receipts: list[Receipt] = []
    error = uvloop.run(_subscribe_all(assignment, counters, stop, receipts))
    if error:
        print(f"subscriber process failed: {error}", file=sys.stderr, flush=True)
    results.send((receipts, error))
    results.close()


async def _subscribe_all(
    assignment: Assignment, counters: Counters, stop: Event, receipts: list[Receipt]
) -> str | None:
    chunks = [
        assignment.posts[start : start + PER_CONNECTION]
        for start in range(0, len(assignment.posts), PER_CONNECTION)
    ]
    tasks = []
    for chunk in chunks:
        ready = asyncio.Event()
        tasks.append(asyncio.create_task(_connection(assignment, chunk, counters, receipts, ready)))
        if not assignment.burst:  # the next connection opens once this one has its first items
            waiting = asyncio.create_task(ready.wait())
            await asyncio.wait({waiting, tasks[-1]}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if tasks[-1].done():
                break
    while not stop.is_set() and not any(task.done() for task in tasks):
        await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    failures = [
        outcome
        for outcome in outcomes
        if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError)
    ]
    return repr(failures[0]) if failures else None


async def _connection(
    assignment: Assignment,
    chunk: list[tuple[int, str]],
    counters: Counters,
    receipts: list[Receipt],
    ready: asyncio.Event,
) -> None:
    async with connect(
        assignment.url,
        subprotocols=[Subprotocol("graphql-transport-ws")],
        open_timeout=120,
        ping_interval=None,
        max_queue=None,
    ) as ws:
        await _init(ws, assignment.token)
        for subscriber, post_id in chunk:
            query = (
                SUBSCRIPTION.replace("subscription(", f"subscription S{subscriber}(", 1)
                if assignment.distinct
                else SUBSCRIPTION
            )
            payload = {"query": query, "variables": {"id": post_id}}
            await ws.send(_encode({"id": str(subscriber), "type": "subscribe", "payload": payload}))
        started: set[str] = set()
        async for raw in ws:
            received = time.monotonic()
            message = orjson.loads(raw)
            if message["type"] == "ping":
                await ws.send(_encode({"type": "pong"}))
                continue
            if message["type"] != "next" or message["payload"].get("errors"):
                raise RuntimeError(f"unexpected message {message}")
            post = message["payload"]["data"]["post"]
            if message["id"] not in started:
                started.add(message["id"])
                counters.first.value += 1
                if len(started) == len(chunk):
                    ready.set()
                continue
            receipts.append((int(message["id"]), post["id"], post["likeCount"], received))
            counters.updates.value += 1
    raise RuntimeError("the server closed the connection")


async def _init(ws: ClientConnection, token: str) -> None:
    await ws.send(
        _encode({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    ack = orjson.loads(await ws.recv())
    if ack["type"] != "connection_ack":
        raise RuntimeError(f"connection refused: {ack}")


def _encode(message: object) -> str:
    return orjson.dumps(message).decode()
