"""/ready and /metrics answers computed at most once a second, and shared meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence

import pytest
from starlette.testclient import TestClient

from infra.settings import Settings
from observability.endpoints import Operations
from observability.progress import Progress
from observability.readiness import Verdict
from observability.recent_answer import RecentAnswer
from wiring.asgi import create_app


def test_a_burst_of_ready_and_metrics_requests_computes_each_at_most_once_a_second(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each cost 2.3-2.8 ms of CPU, every time: a flood from many addresses, each within
    its request rate, would pay that for every request."""
    app = create_app(settings, projectors=False)
    computed: Counter[str] = Counter()
    with TestClient(app) as client:
        operations: Operations = app.state.operations
        readiness, exposition = operations.readiness, operations.exposition
        check, render = readiness.check, exposition.render

        async def counted_check() -> Verdict:
            computed["/ready"] += 1
            return await check()

        def counted_render(progress: Sequence[Progress] | None) -> bytes:
            computed["/metrics"] += 1
            return render(progress)

        monkeypatch.setattr(readiness, "check", counted_check)
        monkeypatch.setattr(exposition, "render", counted_render)
        began = time.monotonic()
        answers = [client.get(path) for path in ("/ready", "/metrics") * 25]
        elapsed = time.monotonic() - began
    assert [answer.status_code for answer in answers] == [200] * 50
    assert {answer.text for answer in answers[1::2]} == {answers[1].text}  # the same scrape
    for path in ("/ready", "/metrics"):
        assert 1 <= computed[path] <= 1 + elapsed, (computed, elapsed)


async def test_requests_that_arrive_during_a_computation_share_it() -> None:
    started, release = asyncio.Event(), asyncio.Event()
    runs = 0

    async def compute() -> int:
        nonlocal runs
        runs += 1
        started.set()
        await release.wait()
        return runs

    recent: RecentAnswer[int] = RecentAnswer(clock=lambda: 0.0)
    first = asyncio.create_task(recent.get(compute))
    await started.wait()
    others = [asyncio.create_task(recent.get(compute)) for _ in range(9)]
    first.cancel()  # the client that started it leaves: the others still get the answer
    release.set()
    assert await asyncio.gather(*others) == [1] * 9
    assert runs == 1


async def test_an_answer_a_second_old_is_computed_again() -> None:
    now = 0.0
    runs = 0

    async def compute() -> int:
        nonlocal runs
        runs += 1
        return runs

    recent: RecentAnswer[int] = RecentAnswer(seconds=1.0, clock=lambda: now)
    assert [await recent.get(compute) for _ in range(3)] == [1, 1, 1]
    now = 0.99
    assert await recent.get(compute) == 1
    now = 1.0
    assert await recent.get(compute) == 2


async def test_a_computation_that_fails_is_not_kept() -> None:
    async def fail() -> int:
        raise RuntimeError("the store did not answer")

    async def answer() -> int:
        return 7

    recent: RecentAnswer[int] = RecentAnswer(clock=lambda: 0.0)
    with pytest.raises(RuntimeError):
        await recent.get(fail)
    assert await recent.get(answer) == 7
