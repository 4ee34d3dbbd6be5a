"""Keys Redis evicted under a policy that let it, once the policy is set back: the read
models may miss them, and /ready and `status` say so until a rebuild or a matching
verify accounts for them (observability/evictions.py). They said all was well: an
outside probe set allkeys-lru for 10 s under load, 7,713 keys went, and only `verify`
noticed."""

from __future__ import annotations

import contextlib
from pathlib import Path

from redis.exceptions import OutOfMemoryError

from harness.redis_server import PrivateRedis
from harness.server_process import ServerProcess
from tests.support.api import http_api
from tests.support.cli import run_cli
from tests.support.waiting import until_true

POSTS = "{ recentPosts(first: 100) { totalCount } }"


def _evict(redis: PrivateRedis) -> int:
    """Lets Redis evict any key while filling it, then sets the policy back; returns the
    number of keys it evicted."""
    with redis.client() as client:
        used = int(client.info("memory")["used_memory"])
        client.config_set("maxmemory-policy", "allkeys-random")
        client.config_set("maxmemory", used + 200_000)
        # Redis refuses a write it cannot make room for (OOM) once what it may evict runs
        # short of the write: filled enough by then (the CI met it once).
        with contextlib.suppress(OutOfMemoryError):
            for n in range(2_000):
                client.set(f"filler:{n}", "x" * 1_000)
        client.config_set("maxmemory", 0)
        client.config_set("maxmemory-policy", "noeviction")
        client.delete(*(f"filler:{n}" for n in range(2_000)))
        return int(client.info("stats")["evicted_keys"])


def test_evicted_keys_keep_the_server_degraded_until_a_rebuild_accounts_for_them(
    server_env: dict[str, str], tmp_path: Path, private_redis: PrivateRedis
) -> None:
    env = {**server_env, "REDIS_URL": private_redis.url}
    with ServerProcess(env, tmp_path) as server:
        api = http_api(server)
        ann = api.register("Ann")
        for n in range(20):
            api.published_post(ann, f"Post {n}")
        assert api.client.get("/ready").json()["status"] == "ready"
        assert run_cli(env, tmp_path, "status").returncode == 0

        evicted = _evict(private_redis)
        assert evicted > 0
        # /ready's answer may be up to a second old (observability/recent_answer.py).
        until_true(lambda: api.client.get("/ready").json()["status"] == "degraded", timeout=5)
        ready = api.client.get("/ready").json()
        assert "redis" in ready["degraded"], ready
        assert f"Redis evicted {evicted:,} keys" in ready["checks"]["redis"]["reason"]
        status = run_cli({**env, "COLUMNS": "300"}, tmp_path, "status")
        assert status.returncode == 1 and f"Redis evicted {evicted:,} keys" in status.stdout

        rebuilt = run_cli(env, tmp_path, "rebuild")
        assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
        until_true(lambda: api.client.get("/ready").json()["status"] == "ready", timeout=5)
        assert run_cli(env, tmp_path, "status").returncode == 0
        assert api.ok(POSTS)["recentPosts"]["totalCount"] == 20
