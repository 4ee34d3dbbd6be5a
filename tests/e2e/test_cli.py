"""The verify command, run as an operator would."""

from __future__ import annotations

import threading
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


def test_verify_under_writes_says_the_logs_head_moved(
    server: ServerProcess, server_env: dict[str, str], tmp_path: Path, prefix: str
) -> None:
    """Under writes it said only "N keys differ", which invites a needless rebuild (an
    outside probe): it says the head moved, and to run it again while writes are quiet.

    Whether a write lands between verify's two reads of the head is up to the machine:
    on a starved one, a run of this small log once saw none (and rightly said nothing),
    so verify runs until one saw the head move, five times at most."""
    api = http_api(server)
    ann = api.register("Ann")
    client = redis.Redis.from_url(server_env["REDIS_URL"], decode_responses=True)
    active = str(client.get(Keys(prefix).namespace("users")))
    client.hset(Keys(prefix, ActiveSpaces({"users": active})).user(ann.id), "name", "Mallory")
    client.close()
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            api.published_post(ann, "Meanwhile")

    writer = threading.Thread(target=write)
    writer.start()
    said = ""
    try:
        for _ in range(5):
            busy = run_cli(server_env, tmp_path, "verify")
            assert busy.returncode == 1, busy.stdout + busy.stderr
            said = " ".join(busy.stdout.split())
            assert "keys differ" in said, said
            if "the log's head moved from" in said:
                break
    finally:
        stop.set()
        writer.join()
    assert "the log's head moved from" in said, said
    assert "run it again while writes are quiet" in said
