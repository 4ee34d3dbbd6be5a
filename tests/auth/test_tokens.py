"""Bearer tokens: signed user ids that any process with the key can check."""

from __future__ import annotations

import concurrent.futures
import stat
from pathlib import Path

import pytest

from auth import tokens as module
from auth.tokens import LONGEST_TOKEN, BearerTokens, load_or_create_keys
from infra.settings import Settings


def test_a_token_proves_its_user_and_nothing_else() -> None:
    tokens = BearerTokens(b"key")
    token = tokens.issue("user-1")
    assert tokens.verify(token) == "user-1"
    assert tokens.verify(token.replace("user-1", "user-2")) is None
    assert tokens.verify(token + "x") is None
    assert tokens.verify("no-signature") is None
    assert tokens.verify("\u00e9" + token) is None
    assert BearerTokens(b"other key").verify(token) is None


def test_a_token_expires_after_its_lifetime() -> None:
    now = [1_000_000.0]
    tokens = BearerTokens(b"key", lifetime=60, clock=lambda: now[0])
    token = tokens.issue("user-1")
    now[0] += 59
    assert tokens.verify(token) == "user-1"
    assert tokens.claims(token) == ("user-1", 1_000_060)
    now[0] += 1
    assert tokens.verify(token) is None
    user, expires, signature = token.split(".")
    assert tokens.verify(f"{user}.{int(expires) + 3600}.{signature}") is None


def test_a_signature_is_checked_once_and_the_expiry_on_every_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1_000_000.0]
    tokens = BearerTokens(b"key", lifetime=60, clock=lambda: now[0])
    token = tokens.issue("user-1")
    signed: list[str] = []
    sign = module._sign

    def counted(key: bytes, claims: str) -> str:
        signed.append(claims)
        return sign(key, claims)

    monkeypatch.setattr(module, "_sign", counted)
    assert [tokens.verify(token) for _ in range(3)] == ["user-1"] * 3
    assert tokens.verify(token[:-1] + "A") is None  # another token: checked on its own
    assert len(signed) == 2
    now[0] += 60
    assert tokens.verify(token) is None


def test_a_token_longer_than_any_this_server_signs_is_refused() -> None:
    tokens = BearerTokens(b"key")
    assert len(tokens.issue("u" * 36)) < 100
    assert tokens.verify(tokens.issue("u" * LONGEST_TOKEN)) is None


def test_after_a_rotation_the_newest_key_signs_and_older_keys_still_verify() -> None:
    before = BearerTokens(b"old").issue("user-1")
    rotated = BearerTokens(b"new", (b"old",))
    assert rotated.verify(before) == "user-1"
    after = rotated.issue("user-2")
    assert BearerTokens(b"new").verify(after) == "user-2"
    assert BearerTokens(b"old").verify(after) is None
    assert BearerTokens(b"new").verify(before) is None  # the old key dropped: its tokens end


def test_a_rolling_rotation_in_two_steps_refuses_no_token_midway() -> None:
    """docs/security.md: the new key is added second everywhere before it signs anywhere.
    Put first in one roll, a process not yet restarted refused what restarted ones signed."""
    not_restarted, added_second = BearerTokens(b"old"), BearerTokens(b"old", (b"new",))
    signing_new = BearerTokens(b"new", (b"old",))
    assert added_second.verify(not_restarted.issue("user-1")) == "user-1"
    assert added_second.verify(signing_new.issue("user-2")) == "user-2"
    assert signing_new.verify(added_second.issue("user-3")) == "user-3"
    assert not_restarted.verify(signing_new.issue("user-4")) is None  # why one step fails


def test_the_key_is_made_once_private_and_read_back_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret.key"
    (first,) = load_or_create_keys(path)
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_keys(path) == (first,)


def test_processes_starting_together_agree_on_one_whole_key(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    with concurrent.futures.ProcessPoolExecutor(max_workers=4) as pool:
        keys = list(pool.map(load_or_create_keys, [path] * 16))
    assert len(set(keys)) == 1 and len(keys[0]) == 1 and len(keys[0][0]) == 32
    assert [p.name for p in tmp_path.iterdir()] == ["secret.key"]


def tokens_of(env: dict[str, str]) -> BearerTokens:
    settings = Settings.from_env(env)
    return BearerTokens(settings.signing_key, settings.older_signing_keys)


def test_a_key_moved_between_the_key_file_and_inkwell_secret_keeps_its_tokens(
    tmp_path: Path,
) -> None:
    """A single server's file key, shared through INKWELL_SECRET when it scales out: the
    tokens it signed keep working, and the other way round."""
    on_file = {"INKWELL_DATA_DIR": str(tmp_path / "single")}
    token = tokens_of(on_file).issue("user-1")
    text = (tmp_path / "single" / "secret.key").read_text().strip()
    shared = {"INKWELL_DATA_DIR": str(tmp_path / "shared"), "INKWELL_SECRET": text}
    assert tokens_of(shared).verify(token) == "user-1"

    back = tokens_of(shared).issue("user-2")
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "secret.key").write_text(text + "\n")
    assert tokens_of({"INKWELL_DATA_DIR": str(tmp_path / "again")}).verify(back) == "user-2"
    other = {"INKWELL_DATA_DIR": str(tmp_path / "other")}
    assert tokens_of(other).verify(token) is None  # another key still verifies nothing
