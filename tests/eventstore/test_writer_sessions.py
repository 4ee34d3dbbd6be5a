"""The PostgreSQL writer's session settings, whatever the server, database or role sets."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from eventstore.engines import IDLE_IN_TRANSACTION_SECONDS, open_engines

pytestmark = pytest.mark.postgres


def _with_setting(postgres_url: str, name: str, value: str) -> str:
    """The URL with one more session default in its libpq options, as a database's or a
    role's configuration would give it."""
    assert "options=-csearch_path" in postgres_url
    return postgres_url.replace("options=-c", f"options=-c{name}%3D{value}%20-c", 1)


def _shown(url: str, setting: str) -> tuple[str, str]:
    """The setting as the writer's session and a reader's session see it."""
    engines = open_engines(url)
    try:
        with engines.writer.connect() as writer, engines.reader.connect() as reader:
            return (
                writer.execute(text(f"SHOW {setting}")).scalar_one(),
                reader.execute(text(f"SHOW {setting}")).scalar_one(),
            )
    finally:
        engines.dispose()


def test_a_commit_is_durable_before_it_is_acknowledged_even_where_the_server_says_off(
    postgres_url: str,
) -> None:
    url = _with_setting(postgres_url, "synchronous_commit", "off")
    assert _shown(url, "synchronous_commit") == ("on", "off")


def test_a_stronger_synchronous_commit_of_a_replicated_setup_is_kept(postgres_url: str) -> None:
    url = _with_setting(postgres_url, "synchronous_commit", "remote_apply")
    assert _shown(url, "synchronous_commit") == ("remote_apply", "remote_apply")


def test_a_writer_session_idle_in_a_transaction_is_ended_by_the_server(
    postgres_url: str,
) -> None:
    writer, _ = _shown(postgres_url, "idle_in_transaction_session_timeout")
    assert writer == f"{IDLE_IN_TRANSACTION_SECONDS}s"
