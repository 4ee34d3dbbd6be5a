"""Read-your-writes and the log's head: a position past it is refused at once, and the head
is read from the log, so a commit by another API process counts. That a position the
projections have reached reads no head at all is tests/schema/test_no_sql_on_reads.py."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from domain.commands import RegisterUser
from infra.settings import Settings
from projections.live.consistency import ConsistencyTimeout, NotInLog
from tests.support.in_process import send
from tests.support.settings import make_settings
from wiring.bootstrap import running


@pytest.fixture
def shared_log(database_url: str, redis_url: str, prefix: str, tmp_path: Path) -> Settings:
    """What two API processes share: the log (SQLite or PostgreSQL) and Redis's prefix."""
    return make_settings(database_url, redis_url, prefix, tmp_path)


async def test_a_position_another_process_committed_is_waited_for_and_one_past_it_refused(
    shared_log: Settings,
) -> None:
    """Neither process projects, so the checkpoints stay behind every write. The reader
    never saw the writer's commit in memory: only the log tells it the position exists."""
    async with (
        running(shared_log, projectors=False) as writer,
        running(
            replace(shared_log, data_dir=shared_log.data_dir / "reader"), projectors=False
        ) as reader,
    ):
        position = int((await send(writer, RegisterUser("Ann")))["position"])
        waiter = reader.services.consistency

        with pytest.raises(ConsistencyTimeout):
            await waiter.wait_for(position, timeout=0.5, from_client=True)
        assert waiter.head_reads == 1

        # Timeout 30 s: the wait used to run it out and raise ConsistencyTimeout.
        with pytest.raises(NotInLog) as refused:
            await waiter.wait_for(position + 1, timeout=30, from_client=True)
        assert (refused.value.position, refused.value.head) == (position + 1, position)
        assert waiter.head_reads == 2
        assert waiter.waiting == 0
