"""`parked retry` with nothing parked says so: it printed nothing at all (an outside probe)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from cli.commands import cli
from infra.settings import Settings
from tests.support.cli import cli_env
from tests.support.in_process import author_with_posts, settle
from wiring.bootstrap import running


def test_a_retry_with_nothing_parked_says_so(settings: Settings, tmp_path: Path) -> None:
    async def write() -> None:
        async with running(settings) as inkwell:
            await author_with_posts(inkwell, published=1)
            await settle(inkwell)

    asyncio.run(write())
    result = CliRunner().invoke(cli, ["parked", "retry"], env=cli_env(settings, tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "no parked events to retry"
