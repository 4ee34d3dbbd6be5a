"""Sampling a running server with py-spy, summarised as the share of samples per frame.

py-spy reads the process from outside (`--nonblocking`: no pause), so the figures of
the cell being profiled are not slowed by the profiler itself."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

# Where the time of a GraphQL request goes, by a frame in its stack (module path, function).
AREAS = {
    "graphql validation": ("graphql/validation/", ""),
    "graphql parsing": ("graphql/language/parser", ""),
    # graphql-core 3.3 runs operations in graphql/execution/executor.py (3.2: execute.py)
    "graphql execution (resolvers included)": ("graphql/execution/", ""),
    "strawberry extensions runner": ("strawberry/extensions/", ""),
    "Redis client": ("redis/", ""),
    "SQLAlchemy": ("sqlalchemy/", ""),
    "request log (logging)": ("logging/__init__", ""),
    "uvicorn + httptools": ("uvicorn/", ""),
}


def py_spy() -> str | None:
    """py-spy installed beside this Python (the bench extra), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def record(pid: int, seconds: float, out: Path) -> Counter[str]:
    """Samples `pid` (all its threads) for `seconds`; returns collapsed stacks and counts."""
    subprocess.run(
        [py_spy() or "py-spy", "record", "--nonblocking", "--pid", str(pid), "--duration",
         str(max(1, round(seconds))), "--format", "raw", "--output", str(out), "--rate", "200"],
        check=True, capture_output=True,
    )  # fmt: skip
    stacks: Counter[str] = Counter()
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if count.isdigit():
            stacks[stack] += int(count)
    return stacks


def summary(stacks: Counter[str], top: int = 12) -> list[tuple[str, float]]:
    """Each area's share of samples, then the functions with the most samples of their
    own (the innermost frame: where the CPU was, not who called it)."""
    total = sum(stacks.values()) or 1
    shares: list[tuple[str, float]] = []
    for area, (path, function) in AREAS.items():
        hits = sum(
            count
            for stack, count in stacks.items()
            if any(path in frame and function in frame for frame in stack.split(";"))
        )
        shares.append((area, hits / total))
    own: Counter[str] = Counter()
    for stack, count in stacks.items():
        own[_short(stack.split(";")[-1])] += count
    shares += [(f"own: `{name}`", count / total) for name, count in own.most_common(top)]
    return shares


def _short(frame: str) -> str:
    """`function (path/to/site-packages/pkg/mod.py:12)` -> `pkg/mod.py:function`."""
    function, _, where = frame.partition(" (")
    path = where.split(":")[0]
    for marker in ("site-packages/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        path = "/".join(path.split("/")[-2:])
    return f"{path}:{function}"
