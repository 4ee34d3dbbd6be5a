"""Demo mode's projection delay, as the README promises it: a write reaches the posts the
delay after it was made, however close behind another write it came."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness.server_process import ServerProcess
from tests.support.api import http_api

DELAY_SECONDS = 1.5


def test_each_write_reaches_the_posts_the_delay_after_it(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    """createPost answers with its post once the posts have it (read-your-writes), so
    its answer takes the delay. Three posts are made while the registration before them
    waits out its delay, 0.3 s apart; when a batch waited the whole delay from the moment
    it was picked, they took 2.7, 2.4 and 2.1 s of a 1.5 s delay (a probe saw 5 s of a
    3 s delay, and CONSISTENCY_TIMEOUT)."""
    env = {**server_env, "INKWELL_DEMO_PROJECTION_DELAY_MS": str(int(DELAY_SECONDS * 1000))}
    with ServerProcess(env, tmp_path, args=["--demo"]) as server:
        api = http_api(server)
        author = api.register()

        def timed_post(start: float) -> float:
            time.sleep(start)
            began = time.monotonic()
            api.create_post(author)
            return time.monotonic() - began

        with ThreadPoolExecutor(3) as pool:
            took = list(pool.map(timed_post, (0.3, 0.6, 0.9)))
    assert all(DELAY_SECONDS * 0.8 < t < DELAY_SECONDS * 1.4 for t in took), took
