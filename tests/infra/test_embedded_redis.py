"""The embedded Redis says why it would not start."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.embedded_redis import EmbeddedRedis, EmbeddedRedisError


def test_a_damaged_snapshot_is_named_in_the_error(tmp_path: Path) -> None:
    """Redis writes its reasons to its log; the error quotes them and says where it is,
    for the first start and for the restarts after it died (docs/operations.md)."""
    (tmp_path / "redis.rdb").write_bytes(b"not a snapshot at all")
    with pytest.raises(EmbeddedRedisError) as refused:
        EmbeddedRedis(tmp_path).start()
    message = str(refused.value)
    assert "exited with code 1" in message
    assert "Wrong signature trying to load DB from file" in message
    assert f"its log: {tmp_path.resolve() / 'redis.log'}" in message
