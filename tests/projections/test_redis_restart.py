"""A Redis server that dies and comes back empty costs time, not data."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from domain.commands import CreatePost, PublishPost
from harness.net import free_port
from harness.redis_server import start as redis_server
from projections.readers.pagination import Slice
from tests.support.in_process import author_with_posts, send, settle
from tests.support.settings import make_settings
from wiring.bootstrap import running


async def test_read_models_are_rebuilt_from_the_log_after_redis_restarts_empty(
    tmp_path: Path, sqlite_url: str, prefix: str
) -> None:
    port = free_port()
    server = redis_server(port)
    settings = make_settings(sqlite_url, f"redis://127.0.0.1:{port}", prefix, tmp_path)
    try:
        async with running(settings) as inkwell:
            author = await author_with_posts(inkwell, published=3)
            await settle(inkwell)

            server.kill()  # SIGKILL, and it saves nothing: every read model is gone
            server.wait()
            # The write side does not need Redis: this commits, its publish is lost.
            post = await send(inkwell, CreatePost("While Redis was down", "Body"), author)
            await send(inkwell, PublishPost(post["post_id"]), author)

            server = redis_server(port)
            await settle(inkwell, timeout=30)
            page = await inkwell.services.reads.recent_posts(Slice(10))
            assert page.posts[0][1].title == "While Redis was down"
            assert page.total == 4
            user = await inkwell.services.reads.user(author)
            assert user is not None and user.published_post_count == 4
    finally:
        server.kill()
        server.wait()


async def test_an_outage_is_logged_when_it_begins_and_when_it_ends(
    tmp_path: Path, sqlite_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Not at every attempt: each pub/sub reconnection wakes the namespaces' loop, which
    logged a line each time (105 in two minutes of the chaos probe)."""
    port = free_port()
    server = redis_server(port)
    settings = make_settings(sqlite_url, f"redis://127.0.0.1:{port}", prefix, tmp_path)
    try:
        async with running(settings) as inkwell:
            with caplog.at_level(logging.INFO, logger="projections.live.namespaces"):
                server.kill()
                server.wait()
                await asyncio.sleep(4)  # pub/sub reconnects at 0.05, 0.1, 0.2 ... 2 s
                server = redis_server(port)
                await settle(inkwell, timeout=30)
                await asyncio.sleep(1.5)  # the namespaces are re-read every second
        lines = [r.getMessage() for r in caplog.records if r.name == "projections.live.namespaces"]
        assert len([line for line in lines if "could not read" in line]) == 1, lines
        assert len([line for line in lines if "read again after" in line]) == 1, lines
    finally:
        server.kill()
        server.wait()
