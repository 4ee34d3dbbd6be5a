"""An HTTP connection's answers, held to its client address's unsent budget
(protection/unsent_budget.py).

What a connection holds unsent is its transport's write buffer, and the answer the app has
handed to `send` and not written yet: uvicorn's `send` waits while the buffer is over
64 KB, so a second pipelined request's answer, built in full, waits behind the first for
as long as the client does not read. An answer counts from its head, whose Content-Length
says how much is coming. When that would take the address over its budget, the answer
is not sent: the connection is aborted, which drops what its buffer holds (closing it
would keep the buffer until the client read it), and the app's further sends are
dropped, as to a client that went away. No answer says why: its status would tell a
client that a mutation it sent did nothing, when its writes are done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import cast

from uvicorn._types import (
    ASGI3Application,
    ASGIReceiveCallable,
    ASGISendCallable,
    ASGISendEvent,
    Scope,
)
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from protection.unsent_budget import UnsentAccount


class UnsentOnConnection:
    """What one HTTP connection holds unsent, for its account."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self.waiting = 0  # of the answer being sent, not yet written

    def __call__(self) -> int:
        return self._transport.get_write_buffer_size() + self.waiting


def within_budget(
    app: ASGI3Application,
    cycle: RequestResponseCycle,
    account: UnsentAccount,
    unsent: UnsentOnConnection,
) -> ASGI3Application:
    """`app`, for one request, with its answer counted in `account`."""

    async def run(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        answer = _Answer(send, cycle, account, unsent)
        try:
            await app(scope, receive, answer.send)
        finally:
            answer.release(answer.held)

    return run


class _Answer:
    def __init__(
        self,
        send: ASGISendCallable,
        cycle: RequestResponseCycle,
        account: UnsentAccount,
        unsent: UnsentOnConnection,
    ) -> None:
        self._send = send
        self._cycle = cycle
        self._account = account
        self._unsent = unsent
        self.held = 0  # of this answer, announced or handed over, and not written yet
        self._dropped = False

    async def send(self, message: ASGISendEvent) -> None:
        if self._dropped:
            return
        if message["type"] == "http.response.start":
            more = _content_length(message)
        elif message["type"] == "http.response.body":
            more = len(message.get("body", b"")) - self.held
        else:
            more = 0
        if more > 0:
            if not self._account.take(more):
                self._drop()
                return
            self.held += more
            self._unsent.waiting += more
        if message["type"] != "http.response.body":
            await self._send(message)
            return
        try:
            await self._send(message)  # written once it returns
        finally:
            self.release(min(self.held, len(message.get("body", b""))))

    def release(self, size: int) -> None:
        """`size` bytes of the answer were written (or will never be)."""
        self.held -= size
        self._unsent.waiting -= size
        self._account.recount()

    def _drop(self) -> None:
        self._dropped = True
        self._cycle.disconnected = True  # uvicorn neither answers 500 nor writes more
        self._cycle.transport.abort()


def _content_length(message: ASGISendEvent) -> int:
    headers = cast("Iterable[tuple[bytes, bytes]]", message.get("headers", ()))
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0
