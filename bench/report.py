"""What every benchmark records besides its figures: the machine, and its docs section."""

from __future__ import annotations

import json
import os
import platform
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

SECTIONS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(packages: tuple[str, ...]) -> str:
    """One line: CPU, cores, load, OS, Python and the versions of the packages that matter."""
    versions = []
    for name in packages:
        try:
            versions.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    load = ", ".join(f"{figure:.2f}" for figure in os.getloadavg())
    return (
        f"{cpu_model()}, {os.cpu_count()} cores (load average {load} at the start), "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
        + ", ".join(versions)
    )


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table, right-aligned but for the first column."""
    align = ["---", *["---:"] * (len(header) - 1)]
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def write_section(name: str, body: str) -> Path:
    """Rewrites docs/benchmarks/<name>.md between this benchmark's markers; what the file
    holds outside them (notes written by hand on a run) stays."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    section = f"{start}\n{body.strip()}\n{end}"
    path = SECTIONS / f"{name}.md"
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    found = pattern.search(text)
    text = pattern.sub(lambda _: section, text) if found else section + "\n" + text
    SECTIONS.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@dataclass(frozen=True)
class Row:
    """One line of the summary table in docs/benchmarks.md (bench/assemble.py)."""

    measure: str
    inkwell: str
    reference: str
    ratio: str  # as the target is stated: "0.84", "p99 7.9 ms", ...
    target: str
    met: bool


def write_summary(name: str, rows: list[Row]) -> Path:
    """docs/benchmarks/<name>.json: this benchmark's rows of the summary table."""
    path = SECTIONS / f"{name}.json"
    SECTIONS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(row) for row in rows], indent=1) + "\n")
    return path


def read_summary(name: str) -> list[Row]:
    path = SECTIONS / f"{name}.json"
    return [Row(**row) for row in json.loads(path.read_text())] if path.exists() else []
