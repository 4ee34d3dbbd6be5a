"""Hatchling build hook: where the application's files go in a wheel.

Its folders (`schema/`, `web/`, ...) are moved under `inkwell/app/` by the `sources`
table in pyproject.toml; `server.py` is a single file, which `sources` cannot move, so
this hook puts it there. Only for a real wheel: an editable install uses the repository
itself and must carry no copy of it.
"""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class WheelLayout(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "standard":
            build_data["force_include"]["server.py"] = "inkwell/app/server.py"
