"""Runs `python server.py <command>` as a real process, for tests that kill and restart it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx2 as httpx
import psutil

from harness.net import free_port
from infra.lifecycle import Lifecycle

ROOT = Path(__file__).resolve().parents[1]


class ServerProcess(Lifecycle["ServerProcess"]):
    def __init__(
        self,
        env: Mapping[str, str | None],
        cwd: Path,
        command: str = "serve",
        args: Sequence[str] = (),
        *,
        own_group: bool = False,
    ) -> None:
        """`env` adds to this process's environment; a None value removes the variable.
        `args` follow the command (`--workers 2`, say). `own_group`: started as a shell
        starts it, in a process group of its own, which `ctrl_c()` signals whole."""
        self.port = free_port()
        # Rate limits are off unless `env` turns them on: most tests send bursts from one
        # address on purpose (tests/security tests the limits themselves).
        merged = {
            **os.environ,
            "INKWELL_RATE_LIMITS": "off",
            **env,
            "PORT": str(self.port),
            "PYTHONUNBUFFERED": "1",
        }
        self.env = {name: value for name, value in merged.items() if value is not None}
        self.cwd = cwd
        self.command = command
        self.args = tuple(args)
        self.log = cwd / f"server-{command}-{self.port}.log"
        self.own_group = own_group
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> ServerProcess:
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "server.py"), self.command, *self.args],
                env=self.env,
                cwd=self.cwd,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=self.own_group,
            )
        if wait:
            try:
                self.wait_until_serving()
            except BaseException:
                # A `with` block is not entered when `start` fails, so nothing else stops
                # it: a server that ran but was not seen to serve was left running.
                self.close()
                raise
        return self

    def wait_until_serving(self, timeout: float = 30) -> None:
        """Until this process has bound its port and answers on it. An answer alone is not
        enough: a server another test started on the same port in the meantime answers
        too, while this one fails to bind and exits (in CI, past its migrations). A test
        then wrote to the other server's database and found none of its events in its
        own."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None and self.process.poll() is None, self.log.read_text()
            if not self._bound():
                assert time.monotonic() < deadline, f"server did not bind:\n{self.log.read_text()}"
                time.sleep(0.05)
                continue
            try:
                response = httpx.post(f"{self.url}/graphql", json={"query": "{ __typename }"})
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"server did not start:\n{self.log.read_text()}"
            time.sleep(0.1)

    def _bound(self) -> bool:
        """Whether this process listens on its port: a listening socket it holds is bound
        to it (`api --workers` binds in the parent, which holds it too)."""
        assert self.process is not None
        try:
            listening = psutil.Process(self.process.pid).net_connections(kind="tcp")
        except psutil.NoSuchProcess:
            return False
        return any(
            socket_.status == psutil.CONN_LISTEN and socket_.laddr.port == self.port
            for socket_ in listening
        )

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        self.process = None
        return code

    def ctrl_c(self) -> int:
        """SIGINT to the whole process group, as a terminal's Ctrl-C sends it; waits."""
        assert self.process is not None and self.own_group
        os.killpg(self.process.pid, signal.SIGINT)
        code = self.process.wait(timeout=30)
        self.process = None
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def close(self) -> None:
        if self.process is not None:
            self.stop()
