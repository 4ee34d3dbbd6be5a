"""How Inkwell installs: pinned by the lock, and nothing but `inkwell` at the top of
site-packages, where the application's short folder names would clash with PyPI's."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPLICATION = (
    "auth",
    "cli",
    "domain",
    "eventstore",
    "infra",
    "observability",
    "projections",
    "protection",
    "wiring",
)
GENERIC = (*APPLICATION, "schema", "web", "server.py")
SHOW_WHERE_MODULES_LOAD_FROM = """
import sys
from inkwell.launcher import application_root
sys.path.insert(0, str(application_root()))
import server, schema
print(server.__file__, schema.__file__)
"""


def pinned_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    requirements = [
        *project["project"]["dependencies"],
        *(r for extra in project["project"]["optional-dependencies"].values() for r in extra),
        *project["build-system"]["requires"],
    ]
    return {re.sub(r"\[.*?\]", "", requirement).lower() for requirement in requirements}


def locked() -> set[str]:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    return {line.split(" ")[0].lower() for line in lines if re.match(r"^[A-Za-z0-9]", line)}


def test_the_lock_pins_every_requirement_of_pyproject_as_written() -> None:
    missing = {r.replace("_", "-") for r in pinned_requirements()} - locked()
    assert not missing, f"requirements.lock is out of date ({sorted(missing)}): run `make lock`"


def test_every_requirement_is_pinned_exactly_and_graphql_core_explicitly() -> None:
    assert all("==" in requirement for requirement in pinned_requirements())
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(dependency.startswith("graphql-core==") for dependency in dependencies)
    assert not any(dependency.startswith("psycopg") for dependency in dependencies)


def test_a_wheel_installs_only_inkwell_and_its_command_runs_anywhere(tmp_path: Path) -> None:
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    [wheel] = (tmp_path / "dist").glob("inkwell-*.whl")
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr

    top_level = {path.name for path in site.iterdir()}
    assert top_level == {"inkwell", "inkwell-0.1.0.dist-info", "bin"}
    assert not top_level & set(GENERIC)
    assert all((site / "inkwell" / "app" / name).exists() for name in GENERIC)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    help_text = subprocess.run(
        [str(site / "bin" / "inkwell"), "--help"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert help_text.returncode == 0, help_text.stderr
    assert "verify" in help_text.stdout and "serve" in help_text.stdout
    loaded = subprocess.run(
        [sys.executable, "-c", SHOW_WHERE_MODULES_LOAD_FROM],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert loaded.stdout.split() == [
        str(site / "inkwell" / "app" / "server.py"),
        str(site / "inkwell" / "app" / "schema" / "__init__.py"),
    ]


def test_the_venvs_command_works_from_any_directory(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("inkwell")), "events", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "tail" in result.stdout
