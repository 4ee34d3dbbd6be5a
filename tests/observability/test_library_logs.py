"""Every process applies the logging config before anything else, and `dictConfig`
imports each filter it names: those filters must bring in nothing but their own module
(observability/library_logs.py), or every CLI tool and projector process pays for the
GraphQL schema, uvicorn's protocols or psycopg at start-up."""

from __future__ import annotations

import subprocess
import sys

from harness.server_process import ROOT
from infra.settings import LogSettings

ADDED_BY_THE_CONFIG = """
import logging.config, sys
from infra.settings import LogSettings
config = LogSettings("INFO", "json").config()
before = set(sys.modules)
logging.config.dictConfig(config)
print(" ".join(sorted(set(sys.modules) - before)))
"""


def test_applying_the_logging_config_imports_only_the_filters_module() -> None:
    added = subprocess.run(
        [sys.executable, "-c", ADDED_BY_THE_CONFIG],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert added == ["observability.library_logs"]


def test_every_library_filter_is_in_the_config() -> None:
    filters = LogSettings("INFO", "json").config()["filters"]
    assert {spec["()"].rpartition(".")[2] for spec in filters.values()} == {
        "ForeignOriginLine",
        "FramesNotUtf8",
        "HandshakeQueryHidden",
        "ResetOfEndedSession",
    }
