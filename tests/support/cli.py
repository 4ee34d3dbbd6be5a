"""The command line run as an operator runs it: `python server.py <command>` in a new process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness.server_process import ROOT


def run_cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "server.py"), *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
