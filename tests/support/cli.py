"""The command line run as an operator runs it: `python server.py <command>` in a new process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness.net import free_port
from harness.server_process import ROOT
from infra.settings import Settings


def run_cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """With a free PORT unless `env` names one: `serve` checks it can listen before
    anything else, and a CI run failed when something else held 8000."""
    return subprocess.run(
        [sys.executable, str(ROOT / "server.py"), *args],
        env={**os.environ, "PORT": str(free_port()), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def cli_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """The environment of an `inkwell` command run against the test's stores."""
    assert settings.redis_url is not None
    return {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "INKWELL_PREFIX": settings.prefix,
        "INKWELL_DATA_DIR": str(tmp_path / "data"),
        "INKWELL_SECRET": "the-cli-tests-own-signing-key-000",
        "COLUMNS": "200",
    }
