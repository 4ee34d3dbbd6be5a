"""A TCP proxy in front of Redis that loses and repeats pub/sub messages, as a bad network or
an overloaded Redis would: the server under test talks to Redis through it, unchanged.

Everything the client sends passes through untouched. Of what Redis sends back, the
proxy reads whole RESP frames; each pub/sub message push (`message <channel>
<data>`) is dropped with probability `drop` or sent twice with probability
`duplicate`. Every other reply passes as it came, so commands, transactions and
scripts work as they would without the proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from dataclasses import dataclass

from infra.lifecycle import Lifecycle

# A message push in RESP2 (an array) and in RESP3 (a push), as redis-py may speak either.
MESSAGES = (b"*3\r\n$7\r\nmessage\r\n", b">3\r\n$7\r\nmessage\r\n")
LINE = b"+-:_,#("  # RESP types whose frame is one line
BLOB = b"$=!"  # a length, then that many bytes
AGGREGATE = {b"*": 1, b">": 1, b"~": 1, b"%": 2, b"|": 2}  # frames per counted element


@dataclass
class Tally:
    passed: int = 0
    dropped: int = 0
    duplicated: int = 0


def frame_end(buffer: bytes, start: int) -> int | None:
    """Where the RESP2/RESP3 frame at `start` ends, or None while it is incomplete."""
    line_end = buffer.find(b"\r\n", start)
    if line_end < 0:
        return None
    kind = buffer[start : start + 1]
    if kind in LINE:
        return line_end + 2
    count = int(buffer[start + 1 : line_end])
    if kind in BLOB:
        end = line_end + 2 + count + 2 if count >= 0 else line_end + 2
        return end if end <= len(buffer) else None
    if kind not in AGGREGATE:
        raise ValueError(f"not a RESP frame: {buffer[start : start + 20]!r}")
    position: int | None = line_end + 2
    for _ in range(max(count, 0) * AGGREGATE[kind]):
        if position is None or position >= len(buffer):
            return None
        position = frame_end(buffer, position)
    if kind == b"|" and position is not None:  # attributes precede the frame they annotate
        return frame_end(buffer, position) if position < len(buffer) else None
    return position


class PubSubFaultProxy(Lifecycle["PubSubFaultProxy"]):
    """Listens on 127.0.0.1:`port` (0: any free one) in a thread of its own."""

    def __init__(self, redis_port: int, *, drop: float, duplicate: float, seed: int = 0) -> None:
        self.redis_port = redis_port
        self.drop = drop
        self.duplicate = duplicate
        self.tally = Tally()
        self._random = random.Random(seed)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="pubsub-fault-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PubSubFaultProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _connection(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        try:
            redis_in, redis_out = await asyncio.open_connection("127.0.0.1", self.redis_port)
        except OSError:
            client_out.close()
            return
        upstream = asyncio.ensure_future(self._pipe(client_in, redis_out))
        downstream = asyncio.ensure_future(self._replies(redis_in, client_out))
        await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
        for task in (upstream, downstream):
            task.cancel()
        for writer in (client_out, redis_out):
            with contextlib.suppress(Exception):
                writer.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()

    async def _replies(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buffer = b""
        while data := await reader.read(65536):
            buffer += data
            start = 0
            out = bytearray()
            while start < len(buffer) and (end := frame_end(buffer, start)) is not None:
                out += self._faulted(buffer[start:end])
                start = end
            buffer = buffer[start:]
            if out:
                writer.write(bytes(out))
                await writer.drain()

    def _faulted(self, frame: bytes) -> bytes:
        if not frame.startswith(MESSAGES):
            return frame
        roll = self._random.random()
        if roll < self.drop:
            self.tally.dropped += 1
            return b""
        if roll < self.drop + self.duplicate:
            self.tally.duplicated += 1
            return frame + frame
        self.tally.passed += 1
        return frame
