"""Bearer tokens: signed user ids that any process with the key can check."""

from __future__ import annotations

import concurrent.futures
import stat
from pathlib import Path

from auth.tokens import BearerTokens, load_or_create_key


def test_a_token_proves_its_user_and_nothing_else() -> None:
    tokens = BearerTokens(b"key")
    token = tokens.issue("user-1")
    assert tokens.verify(token) == "user-1"
    assert tokens.verify(token.replace("user-1", "user-2")) is None
    assert tokens.verify(token + "x") is None
    assert tokens.verify("no-signature") is None
    assert BearerTokens(b"other key").verify(token) is None


def test_the_key_is_made_once_private_and_read_back_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret.key"
    first = load_or_create_key(path)
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == first


def test_processes_starting_together_agree_on_one_whole_key(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    with concurrent.futures.ProcessPoolExecutor(max_workers=4) as pool:
        keys = list(pool.map(load_or_create_key, [path] * 16))
    assert len(set(keys)) == 1 and len(keys[0]) == 32
    assert [p.name for p in tmp_path.iterdir()] == ["secret.key"]
