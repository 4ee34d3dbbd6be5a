"""The harness that starts real servers for the tests: a test talks to its own server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from harness.net import free_port, worker_slice
from harness.server_process import ServerProcess


class _AnswersEverything(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = b'{"data": {"__typename": "Query"}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def occupied(tmp_path: Path, server_env: dict[str, str]) -> Iterator[ServerProcess]:
    """A server process whose port another HTTP server took after it was picked."""
    process = ServerProcess(server_env, tmp_path)
    other = HTTPServer(("127.0.0.1", process.port), _AnswersEverything)
    thread = threading.Thread(target=other.serve_forever, daemon=True)
    thread.start()
    yield process
    other.shutdown()
    other.server_close()
    process.close()


def test_a_server_that_could_not_bind_is_not_taken_for_the_one_answering(
    occupied: ServerProcess,
) -> None:
    """It cannot listen and exits, while the other server answers the readiness check. In
    CI the port was taken after the server's own check, past its migrations: the test
    wrote its events to the other server's database and found none in its own."""
    with pytest.raises(AssertionError, match=r"(?i)address already in use"):
        occupied.start()
    assert occupied.process is None  # stopped: a failed start leaves nothing running


def test_each_xdist_worker_picks_ports_from_a_slice_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    slices = []
    for worker in ("gw0", "gw1", "gw2"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        slices.append(worker_slice(20_000, 32_768))
    assert slices == [(20_000, 24_256), (24_256, 28_512), (28_512, 32_768)]
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert worker_slice(20_000, 32_768) == (20_000, 32_768)


def test_ports_picked_one_after_another_are_all_different() -> None:
    """A primary and its replica once drew the same port: the replica replicated itself."""
    picks = [free_port() for _ in range(500)]
    assert len(set(picks)) == len(picks)
