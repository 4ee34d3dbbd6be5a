"""`serve`'s projectors, in a process of their own that the server starts and watches.

One Python process runs one thread of Python at a time. With the projectors in the
server's process, their work on every event shared that one core with the requests:
under createPost load py-spy put 19% of the event loop's samples in them. Split, the
serving process spends 2,034-2,311 µs of CPU per request instead of 2,567-2,734, and
serves 426-533 requests/s instead of 395-441 (A/B on 2 cores; the two processes
together spend about what the one did: docs/benchmarks/profiles.md).
So `serve` is those two processes: this one answers GraphQL, its child
(`inkwell project --until-stdin-closes`, reading the same environment and the
server's Redis) keeps the read models.

The child holds the read end of a pipe whose write end only this process has. It
stops cleanly when the pipe closes, which happens on this process's shutdown and
also when it dies any other way (SIGKILL included): the kernel closes the write end,
so no projector outlives its server. A child that exits on its own is logged and
started again, after a backoff that grows while it keeps failing; meanwhile the
projections' lag grows where /ready and `inkwell status` show it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from types import TracebackType

from redis.asyncio import Redis

from infra.shutdown_signal import on_shutdown_signal
from projections.keyspace.keys import Keys

log = logging.getLogger("inkwell")

SERVER = Path(__file__).resolve().parents[1] / "server.py"
STARTED_WITHIN_SECONDS = 60.0  # for the child to take (or find taken) every lease
STOPPED_WITHIN_SECONDS = 10.0  # for the child to finish its batch and let its leases go
RESTART_BACKOFF_SECONDS = (1.0, 30.0)  # first and longest wait before a restart
STEADY_SECONDS = 60.0  # a child that ran this long starts the backoff over


class ProjectorProcess:
    def __init__(
        self, redis_url: str, redis: Redis, keys: Keys, projections: tuple[str, ...], demo: bool
    ) -> None:
        """`redis_url`: the server's Redis (its embedded one, too) for the child to use;
        `redis` and `keys`: where this process sees the child's leases."""
        self._command = [sys.executable, str(SERVER), "project", "--until-stdin-closes"]
        self._command += ["--demo"] if demo else []
        self._env = {**os.environ, "REDIS_URL": redis_url}
        self._redis = redis
        self._leases = [keys.lease(name) for name in projections]
        self._child: asyncio.subprocess.Process | None = None
        self._stopping = False
        self._supervisor: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ProjectorProcess:
        """Returns once every projection's lease is held (by the child, or by a projector
        already running elsewhere): the server answers with its projectors running."""
        self._child = await self._start()
        self._supervisor = asyncio.create_task(self._supervise(), name="projector process")
        self._supervisor.add_done_callback(_report)
        await self._leases_held()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stopping = True
        child = self._child
        if child is not None and child.returncode is None:
            assert child.stdin is not None
            child.stdin.close()
            try:
                await asyncio.wait_for(child.wait(), STOPPED_WITHIN_SECONDS)
            except TimeoutError:
                log.error("the projector process %d did not stop; killing it", child.pid)
                child.kill()
                await child.wait()
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)

    async def _start(self) -> asyncio.subprocess.Process:
        child = await asyncio.create_subprocess_exec(
            *self._command,
            stdin=asyncio.subprocess.PIPE,
            env=self._env,
            # Its own session: a terminal's Ctrl-C reaches the server only, which then
            # stops the child in order (after the requests, before the Redis it uses).
            start_new_session=True,
        )
        log.info("projectors run in process %d", child.pid)
        return child

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = RESTART_BACKOFF_SECONDS[0]
        while True:
            assert self._child is not None
            started = loop.time()
            code = await self._child.wait()
            if self._stopping:
                return
            if loop.time() - started > STEADY_SECONDS:
                backoff = RESTART_BACKOFF_SECONDS[0]
            log.error(
                "the projector process %d exited with code %d; starting another in %.0f s",
                self._child.pid,
                code,
                backoff,
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RESTART_BACKOFF_SECONDS[1])
            self._child = await self._start()

    async def _leases_held(self) -> None:
        """Until the child holds (or finds held) every lease, at most STARTED_WITHIN_SECONDS.
        A SIGTERM or Ctrl-C ends the wait, and uvicorn, whose handler it reaches too, stops
        the server as soon as it started: the signal waited the minute out, nothing
        listening meanwhile, not even /health (an outside probe, with Redis refusing
        writes)."""
        stopping = asyncio.Event()
        with on_shutdown_signal(stopping.set):
            deadline = asyncio.get_running_loop().time() + STARTED_WITHIN_SECONDS
            while await self._redis.exists(*self._leases) < len(self._leases):
                if stopping.is_set():
                    log.info("stopping before the projectors took every lease")
                    return
                if asyncio.get_running_loop().time() > deadline:
                    log.warning(
                        "some projection's lease is still free after %.0f s; serving anyway",
                        STARTED_WITHIN_SECONDS,
                    )
                    return
                await asyncio.sleep(0.05)


def _report(supervisor: asyncio.Task[None]) -> None:
    if not supervisor.cancelled() and supervisor.exception() is not None:
        log.error("no projector process is started any more", exc_info=supervisor.exception())
