"""The checked-in schema.graphql, which codegen tools read, is what `inkwell schema` prints."""

from __future__ import annotations

import subprocess
import sys

from harness.server_process import ROOT

SCHEMA_FILE = ROOT / "schema.graphql"


def test_schema_graphql_is_what_the_schema_command_prints() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "inkwell", "schema"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=ROOT,
    ).stdout
    assert "type Query" in printed
    assert printed == SCHEMA_FILE.read_text(), (
        "schema.graphql is stale: run `inkwell schema > schema.graphql`"
    )
