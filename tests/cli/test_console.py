"""The operator commands' console: piped output is not cut to 80 columns."""

from __future__ import annotations

import pytest
from rich.table import Table

from cli.console import operator_console


def test_piped_tables_keep_their_ids_and_reasons_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    console = operator_console()
    assert not console.is_terminal  # pytest captures the output, as a pipe would
    table = Table()
    for column in ("projection", "position", "stream", "type", "parked", "why"):
        table.add_column(column)
    reason = "CannotApply: unknown event type 'PostPinned'"
    table.add_row("posts", "812", "post-0b7e1d2c-1111-4a4a-8a8a-000000000001", "x", "now", reason)
    with console.capture() as captured:
        console.print(table)
    assert reason in captured.get()
    assert "post-0b7e1d2c-1111-4a4a-8a8a-000000000001" in captured.get()


def test_a_columns_setting_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "90")
    assert operator_console().width == 90


def test_a_narrow_console_is_widened_to_what_a_table_needs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In 50 columns `status`'s number cells came out blank, squeezed to nothing."""
    monkeypatch.setenv("COLUMNS", "50")
    console = operator_console(min_width=96)
    assert console.width == 96
    table = Table()
    for column in ("projection", "position", "head", "lag", "lag (s)", "state", "parked"):
        table.add_column(column)
    table.add_row("recent_events", "123456", "123500", "44", "1.5", "catching up", "0")
    with console.capture() as captured:
        console.print(table)
    assert "123456" in captured.get() and "123500" in captured.get()
