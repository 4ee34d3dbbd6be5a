"""`verify` and `rebuild` against a Redis that serves reads and refuses writes: one line
naming the refusal, exit code 2. They printed 160-180 lines of traceback and exited 1,
verify's code for read models that differ from the log (an outside probe)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.commands import cli
from harness.net import free_port
from harness.redis_server import PrivateRedis
from tests.support.in_process import author_with_posts, settle
from tests.support.settings import make_settings
from wiring.bootstrap import running


@pytest.mark.parametrize("refusal", ["out of memory", "a replica"])
@pytest.mark.parametrize("command", ["verify", "rebuild"])
def test_a_redis_that_refuses_writes_ends_the_command_in_one_line(
    private_redis: PrivateRedis, sqlite_url: str, tmp_path: Path, refusal: str, command: str
) -> None:
    settings = make_settings(sqlite_url, private_redis.url, "test", tmp_path)

    async def write() -> None:
        async with running(settings) as inkwell:
            await author_with_posts(inkwell, published=2, drafts=1)
            await settle(inkwell)

    asyncio.run(write())
    with private_redis.client() as admin:
        if refusal == "out of memory":
            admin.config_set("maxmemory", 1)  # under noeviction: every write refused
        else:
            admin.replicaof("127.0.0.1", free_port())  # of nothing: read-only, data kept
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": private_redis.url,
        "INKWELL_PREFIX": settings.prefix,
        "INKWELL_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "300",
    }

    result = CliRunner().invoke(cli, [command], env=env)

    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    said = [line for line in result.output.splitlines() if line.strip()]
    assert said[-1].startswith(f"{command}: Redis refused a write: "), said
