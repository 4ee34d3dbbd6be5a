"""The verify command, run as an operator would."""

from __future__ import annotations

from pathlib import Path

import redis

from harness.server_process import ServerProcess
from projections.keyspace.active_spaces import ActiveSpaces
from projections.keyspace.keys import Keys
from tests.support.api import http_api
from tests.support.cli import run_cli


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
    active = str(client.get(Keys(prefix).namespace("users")))
    keys = Keys(prefix, ActiveSpaces({"users": active}))
    client.hset(keys.user(ann.id), "name", "Mallory")
    client.close()
    tampered = run_cli(server_env, tmp_path, "verify")
    assert tampered.returncode == 1
    assert "Mallory" in tampered.stdout and "1 keys differ" in tampered.stdout
