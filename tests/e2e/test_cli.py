"""The verify command, run as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import redis

from projections.keys import Keys
from tests.e2e.conftest import http_api
from tests.support.server_process import ROOT, ServerProcess


def run_cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "server.py"), *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_verify_passes_on_live_read_models_and_fails_on_a_tampered_one(
    server: ServerProcess, server_env: dict[str, str], tmp_path: Path, prefix: str
) -> None:
    api = http_api(server)
    ann = api.register("Ann")
    api.published_post(ann, "Verified")

    clean = run_cli(server_env, tmp_path, "verify")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "the read models match the log" in clean.stdout

    client = redis.Redis.from_url(server_env["REDIS_URL"], decode_responses=True)
    keys = Keys(prefix)
    keys.spaces["users"] = client.get(keys.namespace("users")) or ""
    client.hset(keys.user(ann.id), "name", "Mallory")
    client.close()
    tampered = run_cli(server_env, tmp_path, "verify")
    assert tampered.returncode == 1
    assert "Mallory" in tampered.stdout and "1 keys differ" in tampered.stdout
