"""Entry point of the `inkwell` console script."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def application_root() -> Path:
    """Where `server.py` and the packages beside it live: `inkwell/app/` in a wheel,
    the repository in a checkout or an editable install."""
    bundled = Path(__file__).resolve().with_name("app")
    return bundled if (bundled / "server.py").is_file() else Path(__file__).resolve().parents[1]


def main() -> None:
    root = str(application_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    importlib.import_module("server").cli(prog_name="inkwell")
