"""Whether the client of an HTTP request left before its answer began, for what only waits
on its behalf.

The connection's protocol notes the close (wiring/http_protocol.py, `connection_lost`);
the app reads nothing more of a request it has whole, so it would not hear of it
otherwise. Abandoned requests kept their places: 256 connections of one address that
each sent a read-your-writes query and closed held the address's next request 44 s, as
they went through its 32 places 32 at a time, every one to its full wait (a re-check
probe). A request still queued for a place now gives it up (requests_at_once.py), and
one that holds a place, waiting for the read models, ends its wait (schema/context.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import Scope

from observability.requests import LEFT_UNANSWERED

GONE = "inkwell.client_gone"  # in the scope's state: an Event, made by the first to wait


def client_left(scope: Any) -> None:
    """For the protocol: the connection closed before the request's answer began (the
    request log then says 499). `scope` is uvicorn's, typed as its own."""
    state = scope.get("state")
    if state is None:
        return
    state[LEFT_UNANSWERED] = True
    if (gone := state.get(GONE)) is not None:
        gone.set()


def departure(scope: Scope) -> asyncio.Event | None:
    """Set once the client has left; None where the server notes no state (a test's app)."""
    state = scope.get("state")
    if state is None:
        return None
    gone: asyncio.Event | None = state.get(GONE)
    if gone is None:
        gone = state[GONE] = asyncio.Event()
        if state.get(LEFT_UNANSWERED):
            gone.set()
    return gone


async def unless_gone(wait: Any, gone: asyncio.Event) -> bool:
    """Awaits `wait` (a coroutine) unless the client leaves first: True once it is done,
    False, `wait` cancelled, when the client left. Cancelled itself, it cancels `wait`."""
    waiting = asyncio.ensure_future(wait)
    leaving = asyncio.ensure_future(gone.wait())
    try:
        await asyncio.wait({waiting, leaving}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        leaving.cancel()
        waiting.cancel()  # nothing, once it is done
    if waiting.done():
        waiting.result()
        return True
    return False
