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
from infra.settings import Settings
from tests.support.cli import cli_env
from tests.support.in_process import author_with_posts, settle
from tests.support.settings import make_settings
from wiring.bootstrap import running


async def _written(settings: Settings) -> None:
    """An author's posts, in the log and in the read models."""
    async with running(settings) as inkwell:
        await author_with_posts(inkwell, published=2, drafts=1)
        await settle(inkwell)


async def _written_unprojected(settings: Settings) -> None:
    """More posts, in the log only: no projector runs."""
    async with running(settings, projectors=False) as inkwell:
        await author_with_posts(inkwell, published=1, drafts=0)


def refuse_writes(redis: PrivateRedis, refusal: str) -> None:
    with redis.client() as admin:
        if refusal == "out of memory":
            admin.config_set("maxmemory", 1)  # under noeviction: every write refused
        else:
            admin.replicaof("127.0.0.1", free_port())  # of nothing: read-only, data kept


@pytest.mark.parametrize("refusal", ["out of memory", "a replica"])
@pytest.mark.parametrize(
    ("command", "said"),
    [
        ("verify", "verify: Redis refused a write: "),
        ("rebuild", "rebuild: Redis refused a write: "),
        # It seeded, waited 60 s and exited 0, "the read models are still catching up".
        ("seed --posts 3", "seed: Redis refuses writes: "),
    ],
)
def test_a_redis_that_refuses_writes_ends_the_command_in_one_line(
    private_redis: PrivateRedis,
    sqlite_url: str,
    tmp_path: Path,
    refusal: str,
    command: str,
    said: str,
) -> None:
    settings = make_settings(sqlite_url, private_redis.url, "test", tmp_path)
    asyncio.run(_written(settings))
    refuse_writes(private_redis, refusal)

    result = CliRunner().invoke(cli, command.split(), env=cli_env(settings, tmp_path))

    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith(said), lines


@pytest.mark.parametrize("refusal", ["out of memory", "a replica"])
def test_parked_retry_with_nothing_parked_writes_nothing_and_says_so(
    private_redis: PrivateRedis, sqlite_url: str, tmp_path: Path, refusal: str
) -> None:
    """It ended in 225 lines of traceback. With nothing parked it has nothing to write (the
    notice it sends is a PUBLISH, which such a Redis takes), so it says so and exits 0."""
    settings = make_settings(sqlite_url, private_redis.url, "test", tmp_path)
    asyncio.run(_written(settings))
    refuse_writes(private_redis, refusal)

    result = CliRunner().invoke(cli, ["parked", "retry"], env=cli_env(settings, tmp_path))

    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "no parked events to retry" in result.output


@pytest.mark.parametrize("refusal", ["out of memory", "a replica"])
def test_status_names_a_redis_that_refuses_writes(
    private_redis: PrivateRedis, sqlite_url: str, tmp_path: Path, refusal: str
) -> None:
    """Every projector stalls then, and status had asked whether a projector ran."""
    settings = make_settings(sqlite_url, private_redis.url, "test", tmp_path)
    asyncio.run(_written(settings))
    refuse_writes(private_redis, refusal)

    result = CliRunner().invoke(cli, ["status"], env=cli_env(settings, tmp_path))

    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert "Redis refuses writes (" in said, said
    assert "no projector can apply an event until it takes them again" in said
    assert "does a projector run?" not in said


def test_status_does_not_ask_for_a_projector_that_redis_keeps_from_its_lease(
    private_redis: PrivateRedis, sqlite_url: str, tmp_path: Path
) -> None:
    """Events waiting and no lease held, because a running projector cannot renew its
    lease while Redis refuses writes: status told the operator to start one (an outside
    probe, Redis at its maxmemory)."""
    settings = make_settings(sqlite_url, private_redis.url, "test", tmp_path)
    asyncio.run(_written(settings))
    asyncio.run(_written_unprojected(settings))
    refuse_writes(private_redis, "out of memory")

    result = CliRunner().invoke(cli, ["status"], env=cli_env(settings, tmp_path))

    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert "events waiting and no projector holds its lease: none can take it while" in said
    assert "start `serve`" not in said
    assert "Redis refuses writes (" in said
