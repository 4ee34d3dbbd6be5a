"""A socket dropped while its subscriptions are sending ends them quietly, in both
protocols: a client going away is not an error. In the legacy one (graphql-ws) each
such socket left an operation task whose WebSocketDisconnected no one retrieved,
logged as an ERROR with its traceback, 2.4 KB a time (an outside probe: 4,158 of them
and a 47 MB log over 30,000 dropped sockets)."""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import struct
from typing import Any

import httpx2 as httpx
import websockets
from websockets.typing import Subprotocol

from infra.settings import Settings
from tests.support import operations as ops
from tests.support.served_app import served
from tests.support.socket_protocols import EACH_PROTOCOL

SOCKETS = 50
PER_SOCKET = 30
LIKES = "subscription($id: ID!) { post(id: $id) { likeCount } }"


async def call(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str = ""
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = (
        await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
    ).json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def keep_changing(
    client: httpx.AsyncClient, post_id: str, readers: list[dict[str, Any]]
) -> None:
    """Likes and unlikes the post, so that every subscription has an item to send."""
    while True:
        for operation in (ops.LIKE_POST, ops.UNLIKE_POST):
            for reader in readers:
                await call(client, operation, {"input": {"postId": post_id}}, reader["token"])


async def drop_mid_stream(url: str, post_id: str, protocol: str, start: str) -> None:
    """PER_SOCKET subscriptions on a socket, then a reset once one item came: no close frame."""
    ws = await websockets.connect(url, subprotocols=[Subprotocol(protocol)])
    await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    for n in range(PER_SOCKET):
        operation = {"query": LIKES, "variables": {"id": post_id}}
        await ws.send(json.dumps({"id": str(n), "type": start, "payload": operation}))
    assert json.loads(await ws.recv())["type"] in ("data", "next")
    sock = ws.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.transport.abort()


@EACH_PROTOCOL
async def test_dropping_a_socket_mid_stream_logs_no_task_exception(
    settings: Settings, protocol: str, start: str, error_of: object
) -> None:
    unretrieved: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: unretrieved.append(context))
    async with served(settings) as running:
        base = running.url.replace("ws://", "http://").removesuffix("/graphql")
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            author = (await call(client, ops.REGISTER, {"input": {"name": "Ann"}}))["registerUser"]
            readers = [
                (await call(client, ops.REGISTER, {"input": {"name": f"R{n}"}}))["registerUser"]
                for n in range(4)
            ]
            made = await call(
                client, ops.CREATE_POST, {"input": {"title": "T", "content": "x"}}, author["token"]
            )
            post_id = made["createPost"]["post"]["id"]
            await call(client, ops.PUBLISH_POST, {"input": {"postId": post_id}}, author["token"])
            changing = asyncio.create_task(keep_changing(client, post_id, readers))
            try:
                for _ in range(SOCKETS):
                    await drop_mid_stream(running.url, post_id, protocol, start)
            finally:
                changing.cancel()
            await asyncio.sleep(1)
    gc.collect()  # a task's unretrieved exception is reported when it is collected
    await asyncio.sleep(0)
    assert [context.get("exception") for context in unretrieved] == []
