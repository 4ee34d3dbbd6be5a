"""Node for the tests that drive npm clients: the locked packages, installed with `npm ci`."""

from __future__ import annotations

import fcntl
import json
import queue
import shutil
import subprocess
import threading
from typing import IO, Any

import pytest

from harness.server_process import ROOT

NODE_DIR = ROOT / "tests" / "node"
LINE_SECONDS = 30

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="node and npm are not on PATH: the npm client tests run on Node",
)


def install_locked_packages() -> None:
    """`npm ci` from package-lock.json when node_modules is missing or older than the lock
    (node_modules is never committed).

    The suite's xdist workers may both reach a Node test at once, and two `npm ci` in one
    folder delete each other's files (ENOTEMPTY), so the install holds a file lock and the
    second worker finds it done."""
    with open(NODE_DIR / ".install.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        if not _installed_from_lock():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=300
            )


def _installed_from_lock() -> bool:
    installed = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    return installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime


class Lines:
    """A process's output lines, each awaited with a timeout (a reader thread drains the pipe)."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._drain, args=(stream,), daemon=True).start()

    def _drain(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)

    def next_json(self) -> Any:
        """The next line, parsed; anything else (an error's stack trace) fails with its text."""
        try:
            line = self._lines.get(timeout=LINE_SECONDS)
        except queue.Empty:
            raise AssertionError(f"no line from node within {LINE_SECONDS} s") from None
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            rest = "".join(self._lines.get(timeout=1) for _ in range(self._lines.qsize()))
            raise AssertionError(f"node printed: {line}{rest}") from None


class NodeScript:
    """A Node script run as a process, its output read as JSON lines; killed on exit."""

    def __init__(self, script: str, *args: str) -> None:
        self.process = subprocess.Popen(
            ["node", str(NODE_DIR / script), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        self.lines = Lines(self.process.stdout)

    def next_json(self) -> Any:
        return self.lines.next_json()

    def exit_code(self) -> int:
        return self.process.wait(timeout=LINE_SECONDS)

    def __enter__(self) -> NodeScript:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
