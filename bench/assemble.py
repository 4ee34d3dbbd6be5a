"""docs/benchmarks.md: the summary table of every benchmark's rows against its target,
the profile before and after, then each benchmark's own section, as last written."""

from __future__ import annotations

import re
from pathlib import Path

from bench import report

DOC = report.SECTIONS.parent / "benchmarks.md"
# Written by hand: what the profiles showed before and after the work of issue 11.
PROFILES = report.SECTIONS / "profiles.md"

HEADER = """# Benchmarks

Every figure here was printed by a script in `bench/` (`make bench` runs them all and
rewrites this page; one alone is `.venv/bin/python -m bench.<name>`: `make` installs
the bench extra with the rest). Each benchmark runs Inkwell and its reference side by side in one
run, on this small shared machine: read the ratios, not the absolute figures, and
compare figures of one run with each other, not with another machine's.
"""


# Rows of issue 11's table whose benchmark does not write its summary rows (yet).
ELSEWHERE = {
    "subscriptions": "5,000 subscribers of one post, delivery p99 (target < 250 ms)",
    "rebuild": "rebuild of 100,000 events (target >= 30,000 events/s)",
}


def summary(names: list[str]) -> str:
    rows = []
    for name in names:
        for row in report.read_summary(name):
            rows.append(
                [row.measure, row.inkwell, row.reference, row.ratio, row.target,
                 "met" if row.met else "**missed**", f"[{name}](benchmarks/{name}.md)"]
            )  # fmt: skip
    for name, measure in ELSEWHERE.items():
        if not report.read_summary(name):
            where = (f"[{name}](benchmarks/{name}.md)"
                     if name in names else f"`bench.{name}` not in this checkout")  # fmt: skip
            rows.append([measure, "see its section", "", "", "", "", where])
    header = ["measure", "Inkwell", "reference, same run", "ratio", "target", "", "bench"]
    return report.table(header, rows)


def write(took_minutes: float | None = None) -> Path:
    from bench.__main__ import BENCHES

    sections = [name for name in BENCHES if (report.SECTIONS / f"{name}.md").exists()]
    others = sorted(
        path.stem for path in report.SECTIONS.glob("*.md")
        if path.stem not in sections and path != PROFILES
    )  # fmt: skip
    names = sections + others
    parts = [HEADER]
    if took_minutes is not None:
        parts.append(f"The last `make bench` took {took_minutes:.1f} min ({report.today()}).\n")
    parts.append("## Summary: issue 11's table, re-measured\n\n" + summary(names) + "\n")
    if PROFILES.exists():
        parts.append(PROFILES.read_text())
    for name in names:
        parts.append(_from_docs((report.SECTIONS / f"{name}.md").read_text()))
    DOC.write_text("\n".join(part.rstrip("\n") + "\n" for part in parts))
    return DOC


def _from_docs(section: str) -> str:
    """A section's plots, linked from beside them (docs/benchmarks/), linked from docs/."""
    return re.sub(r"\]\(([\w.-]+\.png)\)", r"](benchmarks/\1)", section)


if __name__ == "__main__":
    print(f"written to {write()}")
