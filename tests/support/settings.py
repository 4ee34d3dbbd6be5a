"""Settings for an app running inside a test: its own database, Redis prefix and data directory."""

from __future__ import annotations

from pathlib import Path

from infra.settings import Settings
from protection.config import RateLimits


def make_settings(database_url: str, redis_url: str, prefix: str, data_dir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        prefix=prefix,
        host="127.0.0.1",
        port=0,
        data_dir=data_dir,
        signing_key=b"test-signing-key",
        consistency_timeout=5.0,
        # Tests send bursts from one address on purpose; tests/security turns limits on.
        rate_limits=RateLimits(enabled=False),
    )
