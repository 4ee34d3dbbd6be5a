"""An INKWELL_ variable that no setting reads is named, with the setting it resembles: a
misspelled one did nothing, and nothing said so (an outside probe)."""

from __future__ import annotations

import re
from pathlib import Path

from infra.settings import LogSettings, Settings
from infra.unread_settings import Reads, unread

DOCS = [Path("README.md"), *Path("docs").glob("*.md")]


def names_read(env: dict[str, str], tmp_path: Path) -> Reads:
    reads = Reads({"INKWELL_DATA_DIR": str(tmp_path), **env})
    Settings.from_env(reads)
    LogSettings.from_env(reads)
    return reads


def test_a_misspelled_setting_is_named_with_the_one_it_resembles(tmp_path: Path) -> None:
    env = {
        "INKWELL_RATELIMITS": "off",
        "INKWELL_LEASE_SECOND": "5",
        "INKWELL_RATE_LIMIT_WRITE": "5/minute",
        "INKWELL_NOTHING_LIKE_IT": "1",
    }
    assert unread(names_read(env, tmp_path)) == [
        "INKWELL_LEASE_SECOND is set, and no setting has that name: it does nothing "
        "(did you mean INKWELL_LEASE_SECONDS?)",
        "INKWELL_NOTHING_LIKE_IT is set, and no setting has that name: it does nothing",
        "INKWELL_RATELIMITS is set, and no setting has that name: it does nothing "
        "(did you mean INKWELL_RATE_LIMITS?)",
        "INKWELL_RATE_LIMIT_WRITE is set, and no setting has that name: it does nothing "
        "(did you mean INKWELL_RATE_LIMIT_WRITES?)",
    ]


def test_every_setting_the_docs_name_is_read(tmp_path: Path) -> None:
    """Set empty, as unset: a name the docs give and no setting reads would be warned of."""
    documented = {
        name
        for doc in DOCS
        for name in re.findall(r"INKWELL_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_])", doc.read_text())
        if not name.startswith(("INKWELL_TEST_", "INKWELL_DOCS_"))
    }
    assert len(documented) > 30
    reads = names_read(dict.fromkeys(documented, ""), tmp_path)
    assert unread(reads) == []


def test_the_suites_own_variables_and_other_programs_are_left_alone(tmp_path: Path) -> None:
    env = {"INKWELL_TEST_POSTGRES_URL": "postgresql://x", "REDIS_URLS": "x", "PORTS": "1"}
    assert unread(names_read(env, tmp_path)) == []
