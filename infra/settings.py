"""The process's configuration: read from the environment once, into frozen objects passed
down. A value the process cannot use is a SettingsError that names the variable: the CLI
prints that one line and exits 2, never a traceback."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from auth.tokens import (
    DEFAULT_LIFETIME,
    as_the_other_source_reads_them,
    keys_from_secret,
    load_or_create_keys,
)
from observability.logs import logging_config
from protection.allowed_hosts import parse_allowed_hosts
from protection.config import EdgeLimits, RateLimits, check_rates
from schema.exposure import Exposure
from schema.trusted import BadTrustedDocuments, TrustedDocuments, load_trusted_documents
from web.cors import parse_headers, parse_origins

N = TypeVar("N", int, float)


class SettingsError(ValueError):
    """A setting the process refuses; the CLI prints the message and exits 2."""


# A lease is set in Redis in whole milliseconds, and 0 is refused there. A lease of 1e16 s
# was read, and Redis refused its milliseconds as out of range at every batch: the read
# models never moved (an outside probe). A projector that stops holds its projections for
# a lease's length, so an hour is already more than a standby should wait.
SHORTEST_LEASE = 0.001
# The largest age a cache must read (RFC 9111 1.2.2: 2^31 s). A value of 23 digits was
# accepted and sent as `s-maxage` (a re-check probe).
LONGEST_CACHE_SECONDS = 2**31
LONGEST_LEASE = 3600.0
# A token's expiry is written in whole seconds: 1e305 days overflowed, and the user was
# registered without the token its answer should have carried (an outside probe).
LONGEST_TOKEN_DAYS = 3650.0

DEMO_DELAY = "INKWELL_DEMO_PROJECTION_DELAY_MS"
MAX_DEMO_DELAY_MS = 60_000


def _demo_projection_delay(env: Mapping[str, str], demo: bool) -> float:
    """Seconds each projector batch waits in demo mode, from milliseconds in the environment."""
    raw = env.get(DEMO_DELAY)
    if not raw:
        return 0.0
    if not demo:
        raise SettingsError(
            f"{DEMO_DELAY} slows the projectors for demonstrations and is refused outside "
            "demo mode: start the server with `inkwell serve --demo`, or unset it"
        )
    try:
        milliseconds = int(raw)
    except ValueError:
        milliseconds = -1
    if not 0 <= milliseconds <= MAX_DEMO_DELAY_MS:
        raise SettingsError(
            f"{DEMO_DELAY} must be a whole number of milliseconds from 0 to {MAX_DEMO_DELAY_MS}"
        )
    return milliseconds / 1000


def _number(
    env: Mapping[str, str],
    name: str,
    default: N,
    kind: Callable[[str], N],
    least: float,
    most: float = math.inf,
    *,
    above: bool = False,
) -> N:
    """The variable as a finite number from `least` (or above it, with `above`) to `most`,
    or its default when unset or empty. Out of range it would not fail until used: a
    lease of 0 s was refused by Redis at every batch, so the read models never moved
    while the server ran on."""
    raw = env.get(name)
    if not raw:
        return default
    what = "a whole number" if kind is int else "a number"
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name} must be {what}, not {raw!r}") from None
    if not ((least < value if above else least <= value) and value <= most) or math.isinf(value):
        raise SettingsError(f"{name} must be {what} {_span(least, most, above)}, not {raw!r}")
    return value


def _span(least: float, most: float, above: bool) -> str:
    low, high = _figure(least), _figure(most)
    if above:
        return f"above {low}" + (f" and at most {high}" if math.isfinite(most) else "")
    return f"from {low} to {high}" if math.isfinite(most) else f"of at least {low}"


def _figure(bound: float) -> str:
    """A bound as written: a whole one whole (2147483648, not 2.14748e+09)."""
    return str(int(bound)) if math.isfinite(bound) and bound == int(bound) else f"{bound:g}"


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    prefix: str
    host: str
    port: int
    data_dir: Path
    signing_key: bytes
    consistency_timeout: float
    ready_max_lag: int = 1000
    ready_stalled_after: float = 30.0
    metrics_dir: Path | None = None  # prometheus-client's multiprocess mode, when set
    redis_read_url: str | None = None  # a replica for queries and subscriptions, when set
    lease_seconds: float = 5.0  # how long a dead projector holds its projections
    rate_limits: RateLimits = field(default_factory=RateLimits)  # INKWELL_RATE_LIMITS=off: none
    edge: EdgeLimits = field(default_factory=EdgeLimits)  # body, WebSocket, query cost
    live_give_up_seconds: float = 60.0  # a live stream that cannot resume this long ends
    cors_origins: tuple[str, ...] = ()  # browser origins allowed to call the API (CORS, WS)
    cors_headers: tuple[str, ...] = ()  # request headers they may send beyond web/cors.py's
    # Host names requests may name (protection/allowed_hosts.py); None: not set.
    allowed_hosts: tuple[str, ...] | None = None
    trusted_documents: TrustedDocuments | None = None  # when set, only these operations run
    cdn_max_age: int = 5  # seconds a shared cache may keep an anonymous GET query's answer
    production: bool = False  # INKWELL_ENV=production: refuse what is only unwise in dev
    older_signing_keys: tuple[bytes, ...] = ()  # still verify tokens, until those expire
    token_lifetime: float = DEFAULT_LIFETIME  # seconds
    exposure: Exposure = field(default_factory=Exposure)  # introspection, hints, GraphiQL
    demo: bool = False  # `serve --demo`: demo-only settings are allowed
    # Demo mode only: how long each projector batch waits before applying.
    demo_projection_delay: float = 0.0

    @staticmethod
    def from_env(env: Mapping[str, str] = os.environ, *, demo: bool = False) -> Settings:
        """Reads the environment once; a variable set to the empty string counts as unset.
        Demo-only settings are refused unless `demo` (`inkwell serve --demo`)."""

        def get(name: str, default: str) -> str:
            return env.get(name) or default

        def whole(name: str, default: int, least: int = 0, most: float = math.inf) -> int:
            return _number(env, name, default, int, least, most)

        def duration(name: str, default: float, most: float = math.inf) -> float:
            """Above 0: a deadline, a lifetime or a give-up time of 0 or less is nonsense."""
            return _number(env, name, default, float, 0, most, above=True)

        try:
            rate_limits, edge = RateLimits.from_env(env), EdgeLimits.from_env(env)
            check_rates(rate_limits, edge)
            exposure = Exposure.from_env(env)
            cors_origins = parse_origins(get("INKWELL_CORS_ORIGINS", ""))
            cors_headers = parse_headers(get("INKWELL_CORS_HEADERS", ""))
            allowed_hosts = parse_allowed_hosts(get("INKWELL_ALLOWED_HOSTS", ""))
        except ValueError as error:  # each names its variable
            raise SettingsError(str(error)) from None

        data_dir = Path(get("INKWELL_DATA_DIR", "data"))
        database_url = database_url_in(env)
        secret = env.get("INKWELL_SECRET")
        keys = _signing_keys(secret, data_dir / "secret.key")
        moved = as_the_other_source_reads_them(keys, from_file=not secret)
        return Settings(
            database_url=database_url,
            redis_url=_redis_url(env, "REDIS_URL"),
            prefix=_prefix(get("INKWELL_PREFIX", "inkwell")),
            host=get("HOST", "127.0.0.1"),
            port=whole("PORT", 8000, most=65535),
            data_dir=data_dir,
            signing_key=keys[0],
            older_signing_keys=keys[1:] + moved,
            token_lifetime=duration("INKWELL_TOKEN_DAYS", 30, LONGEST_TOKEN_DAYS) * 24 * 3600,
            exposure=exposure,
            consistency_timeout=duration("INKWELL_CONSISTENCY_TIMEOUT", 5),
            ready_max_lag=whole("INKWELL_READY_MAX_LAG", 1000),
            ready_stalled_after=_number(env, "INKWELL_READY_STALLED_AFTER", 30.0, float, 0),
            redis_read_url=_redis_url(env, "REDIS_READ_URL"),
            lease_seconds=_number(
                env, "INKWELL_LEASE_SECONDS", 5.0, float, SHORTEST_LEASE, LONGEST_LEASE
            ),
            rate_limits=rate_limits,
            edge=edge,
            live_give_up_seconds=duration("INKWELL_LIVE_GIVE_UP_SECONDS", 60),
            cors_origins=cors_origins,
            cors_headers=cors_headers,
            allowed_hosts=allowed_hosts,
            trusted_documents=_trusted_documents(env),
            cdn_max_age=whole("INKWELL_CDN_MAX_AGE", 5, most=LONGEST_CACHE_SECONDS),
            production=get("INKWELL_ENV", "development") == "production",
            demo=demo,
            demo_projection_delay=_demo_projection_delay(env, demo),
            # prometheus-client reads this variable itself, at import, so it must be set
            # before the process starts; here it tells /metrics to add up the files there.
            metrics_dir=_metrics_dir(env, database_url),
        )


# Letters, digits, ".", "_" and "-": the prefix starts Redis key, channel and client names.
PREFIX = re.compile(r"[A-Za-z0-9._-]+")


def _prefix(prefix: str) -> str:
    """Refused otherwise: Redis refuses a client name with a space (the server stopped in
    uvicorn's startup under a traceback); SCAN reads `*`, `?` and `[` as a pattern, so a demo
    reset, which deletes `<prefix>:*`, would delete other deployments' keys; and a prefix
    with a `:` names keys of another prefix (`inkwell:rate` those of `inkwell`)."""
    if not PREFIX.fullmatch(prefix):
        raise SettingsError(
            "INKWELL_PREFIX must be letters, digits, '.', '_' and '-' (it starts every Redis "
            f"key, channel and client name), not {prefix!r}"
        )
    return prefix


def database_url_in(env: Mapping[str, str] = os.environ) -> str:
    """DATABASE_URL, else the SQLite file in the data directory; read without the rest of
    the settings, which make the signing key on first use."""
    data_dir = Path(env.get("INKWELL_DATA_DIR") or "data")
    return env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'inkwell.db'}"


REDIS_SCHEMES = ("redis", "rediss", "unix")


def _redis_url(env: Mapping[str, str], name: str) -> str | None:
    url = env.get(name) or None
    if url is not None and urlsplit(url).scheme not in REDIS_SCHEMES:
        # Not the value itself: a URL may carry a password.
        raise SettingsError(f"{name} must be a redis://, rediss:// or unix:// URL")
    return url


def _existing(
    env: Mapping[str, str], name: str, exists: Callable[[Path], bool], what: str
) -> Path | None:
    """A path the process reads from the start, checked now rather than when first used
    (uvicorn's "Application startup failed", under a traceback)."""
    raw = env.get(name)
    if not raw:
        return None
    if not exists(Path(raw)):
        raise SettingsError(f"{name} must name {what} that exists, not {raw!r}")
    return Path(raw)


def _trusted_documents(env: Mapping[str, str]) -> TrustedDocuments | None:
    """The operations that alone may run, read now: a file that was not JSON, or did not
    parse as GraphQL, stopped `serve` in uvicorn's startup under a traceback, exit 3."""
    name = "INKWELL_TRUSTED_DOCUMENTS"
    path = _existing(env, name, Path.is_file, "a file")
    if path is None:
        return None
    try:
        return load_trusted_documents(path)
    except BadTrustedDocuments as error:
        raise SettingsError(f"{name}: {error}") from None


# The files prometheus-client writes there. It reads every *.db file of the directory as one.
METRICS_FILE = re.compile(r"(counter|histogram|summary|gauge_[a-z]+)_[0-9]+\.db")


def _metrics_dir(env: Mapping[str, str], database_url: str) -> Path | None:
    """PROMETHEUS_MULTIPROC_DIR, if it holds nothing but metrics. Set to the data directory
    (where the SQLite log is), every /metrics answered 500 under a traceback: the log's
    file was read as a metrics file."""
    directory = _existing(env, "PROMETHEUS_MULTIPROC_DIR", Path.is_dir, "a directory")
    if directory is None:
        return None
    foreign = [path for path in directory.glob("*.db") if not METRICS_FILE.fullmatch(path.name)]
    if database_url.startswith("sqlite:///"):
        log_file = Path(database_url.removeprefix("sqlite:///").partition("?")[0])
        if log_file.suffix == ".db" and log_file.resolve().parent == directory.resolve():
            foreign.append(log_file)
    if foreign:
        raise SettingsError(
            f"PROMETHEUS_MULTIPROC_DIR must be a directory of its own: {directory} holds "
            f"{foreign[0].name}, which /metrics would read as a metrics file, and fail on"
        )
    return directory


def _signing_keys(secret: str | None, path: Path) -> tuple[bytes, ...]:
    """INKWELL_SECRET's keys, else the data directory's key file (made on first start)."""
    try:
        return keys_from_secret(secret) if secret else load_or_create_keys(path)
    except ValueError as error:
        raise SettingsError(str(error)) from None
    except OSError as error:
        raise SettingsError(
            f"the signing key file {path} cannot be made or read ({error.strerror}): set "
            "INKWELL_DATA_DIR to a directory this process may write, or INKWELL_SECRET"
        ) from None


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_STYLES = ("json", "text", "auto")


@dataclass(frozen=True)
class LogSettings:
    """Read apart from Settings: logging is set up before any command, even `--help`,
    and reading Settings may create the signing key."""

    level: str
    style: str  # json, text, or auto: JSON unless stderr is a terminal

    @staticmethod
    def from_env(env: Mapping[str, str] = os.environ) -> LogSettings:
        level = (env.get("INKWELL_LOG_LEVEL") or "INFO").upper()
        style = env.get("INKWELL_LOG_FORMAT") or "auto"
        if level not in LOG_LEVELS:
            raise SettingsError(f"INKWELL_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        if style not in LOG_STYLES:
            raise SettingsError(f"INKWELL_LOG_FORMAT must be one of {', '.join(LOG_STYLES)}")
        return LogSettings(level, style)

    def config(self) -> dict[str, Any]:
        retold = "observability.library_logs"
        return logging_config(
            self.level,
            self.style,
            filters={
                "strawberry.ws": [f"{retold}.ForeignOriginLine"],
                "uvicorn.error": [f"{retold}.FramesNotUtf8", f"{retold}.HandshakeQueryHidden"],
                # SQLAlchemy names a pool's logger after its class.
                "sqlalchemy.pool.impl.QueuePool": [f"{retold}.ResetOfEndedSession"],
                "sqlalchemy.pool.impl.NullPool": [f"{retold}.ResetOfEndedSession"],
            },
        )
