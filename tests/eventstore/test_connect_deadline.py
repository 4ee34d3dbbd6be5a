"""A database server that takes connections and never answers them (paused: SIGSTOP, a
frozen VM) is given up when a connection opens, unless DATABASE_URL says otherwise."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from sqlalchemy.exc import OperationalError

from eventstore.engines import holds_a_log, open_engines


@pytest.fixture
def silent_server() -> Iterator[str]:
    """The URL of a server whose port listens and never speaks: the kernel takes the
    connection, as a paused PostgreSQL's does."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(8)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{listening.getsockname()[1]}/test"


@pytest.mark.timeout(30)  # libpq's default waits for ever: `status` hung 34 s in a probe
def test_opening_the_log_on_a_server_that_never_answers_fails(silent_server: str) -> None:
    with pytest.raises(OperationalError):
        open_engines(silent_server)
    with pytest.raises(OperationalError):
        holds_a_log(silent_server)
