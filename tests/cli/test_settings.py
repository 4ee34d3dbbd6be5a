"""A setting the process cannot use stops it with one line naming the variable: no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.server_process import ROOT
from infra.settings import Settings, SettingsError

BAD = [
    ("PORT", "abc", "PORT must be a whole number, not 'abc'"),
    ("INKWELL_LEASE_SECONDS", "soon", "INKWELL_LEASE_SECONDS must be a number, not 'soon'"),
    ("INKWELL_MAX_BODY_BYTES", "1MB", "INKWELL_MAX_BODY_BYTES must be a whole number, not '1MB'"),
    ("INKWELL_ENV", "prod", "INKWELL_ENV must be development or production, not 'prod'"),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD)
def test_a_bad_value_is_refused_with_its_name(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    env = {"INKWELL_DATA_DIR": str(tmp_path), name: value}
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env)
    assert str(refused.value) == message


def test_unset_and_empty_variables_take_their_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env({"INKWELL_DATA_DIR": str(tmp_path), "PORT": ""})
    assert (settings.port, settings.lease_seconds) == (8000, 5.0)


def test_the_command_line_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    env = {**os.environ, "INKWELL_DATA_DIR": str(tmp_path), "PORT": "abc"}
    ran = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 2
    assert ran.stderr.strip() == "PORT must be a whole number, not 'abc'"
    assert "Traceback" not in ran.stdout + ran.stderr
