"""`python -m tests.support.dying_rebuild DATABASE_URL REDIS_URL PREFIX DATA_DIR`: starts
a rebuild of every projection and kills its own process with SIGKILL once the first
batch is in Redis. A rebuild that dies before any cleanup could run, for real."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from projections.projectors.rebuild import Rebuild
from projections.projectors.scripts import Scripts
from tests.support.settings import make_settings
from wiring.bootstrap import PROJECTIONS, running


async def rebuild_and_die(database_url: str, redis_url: str, prefix: str, data_dir: str) -> None:
    settings = make_settings(database_url, redis_url, prefix, Path(data_dir))
    async with running(settings, projectors=False) as inkwell:
        build = Rebuild(
            inkwell.redis, inkwell.keys, Scripts.register(inkwell.redis), inkwell.store,
            PROJECTIONS, lambda position, head: os.kill(os.getpid(), signal.SIGKILL), batch=5,
        )  # fmt: skip
        await build.run()


if __name__ == "__main__":
    asyncio.run(rebuild_and_die(*sys.argv[1:5]))
