"""Lets the app act the moment SIGTERM or SIGINT arrives, before uvicorn's graceful wait,
lets SIGTERM end a server process in order after it, and takes a closed terminal's
SIGHUP for a SIGTERM.

uvicorn stops accepting connections on a signal, then waits for open requests to
finish, and only then runs the lifespan's shutdown. A request that is itself
waiting (read-your-writes) should be answered at once rather than wait out its
timeout or be cancelled: `on_shutdown_signal` runs a callback for that first.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def on_shutdown_signal(callback: Callable[[], None]) -> Iterator[None]:
    """While inside, SIGTERM/SIGINT first schedule `callback` on the running loop, then go
    to the handler installed before (uvicorn's). Only the main thread can set handlers:
    elsewhere (a test client's thread) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in SIGNALS}

    def handle(sig: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(callback)
        before = previous[sig]
        if callable(before):
            before(sig, frame)
        elif before == signal.SIG_DFL:
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)

    for sig in SIGNALS:
        signal.signal(sig, handle)
    try:
        yield
    finally:
        for number, before in previous.items():
            signal.signal(number, before)


def unwind_on_sigterm() -> None:
    """From now on SIGTERM ends the process the way Ctrl-C does: by unwinding it
    (SystemExit, exit code 0), so that every `finally` and logging's flush at exit run.
    For a server process's main thread, before uvicorn starts.

    uvicorn handles SIGTERM itself, shuts down gracefully, then raises the signal again
    for the handler it found. Python's default handler killed the process right there:
    what follows `uvicorn.run` (stopping the embedded Redis) never ran, and the log lines
    of the event loop's last turn ("Application shutdown complete.") were never written,
    on every stop by a supervisor."""

    def unwind(sig: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, unwind)


def stop_on_hangup() -> None:
    """From now on SIGHUP stops the process as SIGTERM does, gracefully. For a server
    process's main thread, before uvicorn starts (whose own SIGTERM handler it then reaches).

    Closing the terminal that runs `make run` sends SIGHUP, which no one handled: the
    process ended at once, its open requests cut, without the shutdown that lets its
    projectors' leases go and writes its last log lines. (uvicorn's supervisor of
    `api --workers N` sets its own handler over this one: there SIGHUP restarts the
    workers.)"""

    def as_sigterm(sig: int, frame: FrameType | None) -> None:
        signal.raise_signal(signal.SIGTERM)

    signal.signal(signal.SIGHUP, as_sigterm)
