"""A setting the process cannot use stops it with one line naming the variable: no traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from harness.net import free_port
from harness.redis_server import PrivateRedis
from infra.settings import Settings, SettingsError, database_url_in
from tests.support.cli import run_cli
from tests.support.log import make_log
from tests.support.read_only_disk import read_only_log

BAD = [
    ("PORT", "abc", "PORT must be a whole number, not 'abc'"),
    ("INKWELL_LEASE_SECONDS", "soon", "INKWELL_LEASE_SECONDS must be a number, not 'soon'"),
    ("INKWELL_MAX_BODY_BYTES", "1MB", "INKWELL_MAX_BODY_BYTES must be a whole number, not '1MB'"),
    ("INKWELL_ENV", "prod", "INKWELL_ENV must be development or production, not 'prod'"),
    # Every switch takes on or off, as the README says: these three took 0, 1, true and
    # false too, where INKWELL_RATE_LIMITS refused them (an outside probe).
    *(
        (name, value, f"{name} must be on or off, not {value!r}")
        for name in ("INKWELL_GRAPHIQL", "INKWELL_INTROSPECTION", "INKWELL_SUGGESTIONS")
        for value in ("0", "true")
    ),
    # Each of these was accepted, and failed only when used, or never: a lease of 0 s was
    # refused by Redis at every batch while the server ran on with read models that never
    # moved, and a negative token lifetime issued tokens that had already expired.
    ("PORT", "99999", "PORT must be a whole number from 0 to 65535, not '99999'"),
    # 1e16 s was out of Redis's range (the read models never moved); 1e305 days, of a
    # token's (the user was registered, and given no token): outside probes.
    *(
        (
            "INKWELL_LEASE_SECONDS",
            value,
            f"INKWELL_LEASE_SECONDS must be a number from 0.001 to 3600, not {value!r}",
        )
        for value in ["0", "inf", "1e16"]
    ),
    *(
        (
            "INKWELL_TOKEN_DAYS",
            value,
            f"INKWELL_TOKEN_DAYS must be a number above 0 and at most 3650, not {value!r}",
        )
        for value in ["-1", "1e305"]
    ),
    (
        "INKWELL_CONSISTENCY_TIMEOUT",
        "-5",
        "INKWELL_CONSISTENCY_TIMEOUT must be a number above 0, not '-5'",
    ),
    *(
        (
            "INKWELL_CDN_MAX_AGE",
            value,
            f"INKWELL_CDN_MAX_AGE must be a whole number from 0 to 2147483648, not {value!r}",
        )
        # The second was sent as `s-maxage` (a re-check probe); caches read up to 2^31.
        for value in ["-1", "99999999999999999999999"]
    ),
    (
        "INKWELL_READY_MAX_LAG",
        "-1",
        "INKWELL_READY_MAX_LAG must be a whole number of at least 0, not '-1'",
    ),
    (
        "INKWELL_LIVE_GIVE_UP_SECONDS",
        "nan",
        "INKWELL_LIVE_GIVE_UP_SECONDS must be a number above 0, not 'nan'",
    ),
    # These reached uvicorn's startup and failed there, under a traceback.
    (
        "INKWELL_CORS_ORIGINS",
        "example.com",
        "INKWELL_CORS_ORIGINS: 'example.com' is not an origin; write it as a browser sends "
        "it, e.g. http://localhost:5173 (no path, no trailing slash, no wildcard in it: list "
        "each origin, or *)",
    ),
    (
        "INKWELL_CORS_HEADERS",
        "traceparent, x trace",
        "INKWELL_CORS_HEADERS: 'x trace' is not a header name; name each header a browser "
        "app sends, e.g. x-datadog-trace-id, b3",
    ),
    (
        "INKWELL_ALLOWED_HOSTS",
        "blog.example.com, https://blog.example.com:443",
        "INKWELL_ALLOWED_HOSTS: 'https://blog.example.com:443' is not a host name; list names "
        "as a browser's URL has them, without scheme or port (blog.example.com, "
        "*.example.com, or *)",
    ),
    (
        "INKWELL_ALLOWED_HOSTS",
        "blog..example.com",
        "INKWELL_ALLOWED_HOSTS: 'blog..example.com' is not a host name; list names as a "
        "browser's URL has them, without scheme or port (blog.example.com, *.example.com, "
        "or *)",
    ),
    (  # stripped of its final dot as a name is, it was `*`: every name
        "INKWELL_ALLOWED_HOSTS",
        "*.",
        "INKWELL_ALLOWED_HOSTS: '*.' is not a host name; list names as a browser's URL has "
        "them, without scheme or port (blog.example.com, *.example.com, or *)",
    ),
    (
        "INKWELL_TRUSTED_DOCUMENTS",
        "/no/such.json",
        "INKWELL_TRUSTED_DOCUMENTS must name a file that exists, not '/no/such.json'",
    ),
    (
        "PROMETHEUS_MULTIPROC_DIR",
        "/no/such/dir",
        "PROMETHEUS_MULTIPROC_DIR must name a directory that exists, not '/no/such/dir'",
    ),
    (
        "REDIS_URL",
        "http://:secret@cache:6379",
        "REDIS_URL must be a redis://, rediss:// or unix:// URL",
    ),
    ("REDIS_READ_URL", "cache:6379", "REDIS_READ_URL must be a redis://, rediss:// or unix:// URL"),
    # A budget below the cost limit would refuse a legal query however long its client waited.
    (
        "INKWELL_RATE_LIMIT_QUERY_COST",
        "100000/minute;20000/second",
        "INKWELL_RATE_LIMIT_QUERY_COST allows 20000 a window, less than one query may cost "
        "(INKWELL_MAX_QUERY_COST, 25000)",
    ),
    # Read as rates, and every request they govern answered 500 (an outside probe).
    *(
        (
            f"INKWELL_RATE_LIMIT_{name}",
            value,
            f"INKWELL_RATE_LIMIT_{name} must allow at least 1 a window (rates such as "
            f"{example}), not {value!r}; INKWELL_RATE_LIMITS=off turns every rate limit off",
        )
        for name, value, example in [
            ("REQUESTS", "0/minute", "1200/minute"),
            ("REGISTER", "10/minute;0/day", "10/minute;100/day"),
        ]
    ),
    (
        "INKWELL_RATE_LIMIT_QUERY_COST",
        "a lot",
        "INKWELL_RATE_LIMIT_QUERY_COST must be rates such as 100000/minute, not 'a lot'",
    ),
    # Read as a window of 1 (3 a second), taken for a limit turned off; a window Redis
    # cannot expire failed open at every request (re-check probes).
    *(
        (
            "INKWELL_RATE_LIMIT_SUBSCRIBES",
            value,
            "INKWELL_RATE_LIMIT_SUBSCRIBES must have windows from 1 second to 1 year (rates "
            f"such as 60/minute), not {value!r}",
        )
        for value in ["3/0second", "3/3000000000 year"]
    ),
    # Passed over without a word: every client behind the proxy was counted as one address.
    *(
        (
            "INKWELL_TRUSTED_PROXIES",
            f"10.0.0.5, {entry}",
            f"INKWELL_TRUSTED_PROXIES: {entry!r} is not an IP address or network; list the "
            "proxies' addresses and networks (10.0.0.5, 10.0.0.0/8, fd00::/8), or * alone",
        )
        for entry in ["notanip", "10.0.0.0/33", "10.0.0.1/24", "proxy.internal", "*"]
    ),
    # Redis refused the client name in uvicorn's startup, under a traceback.
    (
        "INKWELL_PREFIX",
        "a b",
        "INKWELL_PREFIX must be letters, digits, '.', '_' and '-' (it starts every Redis key, "
        "channel and client name), not 'a b'",
    ),
    # A demo reset deletes `<prefix>:*`: these would have reached other prefixes' keys.
    *(
        (
            "INKWELL_PREFIX",
            prefix,
            "INKWELL_PREFIX must be letters, digits, '.', '_' and '-' (it starts every Redis "
            f"key, channel and client name), not {prefix!r}",
        )
        for prefix in ["*", "blog[1]", "inkwell:rate", "café", "a\nb"]
    ),
    # The other rates were first read in uvicorn's startup, after Redis and the projector
    # process had started: `limits`' "couldn't parse rate limit string" under a traceback.
    *(
        (
            f"INKWELL_RATE_LIMIT_{name}",
            value,
            f"INKWELL_RATE_LIMIT_{name} must be rates such as {example}, not {value!r}",
        )
        for name, value, example in [
            ("REQUESTS", "lots", "1200/minute"),
            ("PER_TOKEN", "-5/minute", "1200/minute"),
            ("WRITES", "x", "120/minute"),
            ("REGISTER", "10/minute;", "10/minute;100/day"),
            ("BAD_TOKENS", "1/fortnight", "30/minute"),
            ("SUBSCRIBES", "abc", "60/minute"),
            ("SEARCH_WORDS", "many/hour", "20000/hour"),
            ("TEXT_BYTES", "10 MB/hour", "10000000/hour"),
            ("PROFILE_UPDATES", "20 an hour", "20/hour"),
        ]
    ),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD)
def test_a_bad_value_is_refused_with_its_name(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    env = {"INKWELL_DATA_DIR": str(tmp_path), name: value}
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env)
    assert str(refused.value) == message


def test_rates_are_not_read_when_rate_limits_are_off(tmp_path: Path) -> None:
    """As INKWELL_RATE_LIMIT_QUERY_COST was: with the limits off no rate is used."""
    env = {"INKWELL_DATA_DIR": str(tmp_path), "INKWELL_RATE_LIMITS": "off"}
    assert not Settings.from_env({**env, "INKWELL_RATE_LIMIT_WRITES": "x"}).rate_limits.enabled


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("bad.json", "{ not json", "is not JSON: Expecting property name enclosed in double"),
        ("broken.graphql", "query {", "does not parse: Syntax Error: Expected Name, found <EOF>."),
        ("empty.graphql", "fragment F on Post { id }", "lists no operation"),
    ],
)
def test_a_trusted_documents_file_that_cannot_be_read_is_refused_in_one_line(
    tmp_path: Path, name: str, content: str, reason: str
) -> None:
    """It was read in uvicorn's startup, after Redis and the projector process had started:
    BadTrustedDocuments under a traceback, exit 3."""
    documents = tmp_path / name
    documents.write_text(content)
    env = {"INKWELL_DATA_DIR": str(tmp_path), "INKWELL_TRUSTED_DOCUMENTS": str(documents)}
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env)
    assert str(refused.value).startswith(f"INKWELL_TRUSTED_DOCUMENTS: {documents} {reason}")
    assert "\n" not in str(refused.value)


def test_a_trusted_documents_file_is_read_with_the_settings(tmp_path: Path) -> None:
    documents = tmp_path / "operations.graphql"
    documents.write_text("query Feed { __typename }")
    env = {"INKWELL_DATA_DIR": str(tmp_path), "INKWELL_TRUSTED_DOCUMENTS": str(documents)}
    trusted = Settings.from_env(env).trusted_documents
    assert trusted is not None and len(trusted) == 1


@pytest.mark.parametrize("listed", ["10.0.0.5", " 10.0.0.0/8, fd00::/8, ", "*", " * "])
def test_trusted_proxies_are_addresses_and_networks_or_a_star(tmp_path: Path, listed: str) -> None:
    env = {"INKWELL_DATA_DIR": str(tmp_path), "INKWELL_TRUSTED_PROXIES": listed}
    assert Settings.from_env(env).edge.trusted_proxies == listed.strip()


def test_unset_and_empty_variables_take_their_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env({"INKWELL_DATA_DIR": str(tmp_path), "PORT": ""})
    assert (settings.port, settings.lease_seconds) == (8000, 5.0)


def test_cors_headers_are_a_comma_separated_list_of_names(tmp_path: Path) -> None:
    env = {"INKWELL_DATA_DIR": str(tmp_path), "INKWELL_CORS_HEADERS": " b3, X-Datadog-Trace-Id,"}
    assert Settings.from_env(env).cors_headers == ("b3", "X-Datadog-Trace-Id")
    assert Settings.from_env({"INKWELL_DATA_DIR": str(tmp_path)}).cors_headers == ()


def test_cors_origins_are_kept_as_browsers_send_them(tmp_path: Path) -> None:
    """Capitals and a scheme's default port never match a browser's Origin."""
    listed = (
        "https://App.Example.com:443, HTTP://localhost:80, http://[0:0:0:0:0:0:0:1]:5173, "
        "https://x.org:8443"
    )
    env = {"INKWELL_DATA_DIR": str(tmp_path), "INKWELL_CORS_ORIGINS": listed}
    assert Settings.from_env(env).cors_origins == (
        "https://app.example.com", "http://localhost", "http://[::1]:5173", "https://x.org:8443",
    )  # fmt: skip
    for written in (
        "http://a/", "http://u@a", "http://a:99999", "http://a?x", "http://ä.example",
        "https://*.example.com", "http://127.1:3000", "http://a b", "http://a;b", "http://a%2eb",
        "http://0x7f.0.0.1:3000", "http://0x7f000001", "http://example.123", "http://[v1.fe]",
        "http://[fe80::1%25eth0]:3000", "http://[127.0.0.1]", "http://[::1]3000",
        "http://[::1]x:4000",
    ):  # fmt: skip
        with pytest.raises(SettingsError, match="is not an origin"):
            Settings.from_env({**env, "INKWELL_CORS_ORIGINS": written})


def test_the_command_line_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    ran = run_cli({"INKWELL_DATA_DIR": str(tmp_path), "PORT": "abc"}, tmp_path, "serve")
    assert ran.returncode == 2
    assert ran.stderr.strip() == "PORT must be a whole number, not 'abc'"
    assert "Traceback" not in ran.stdout + ran.stderr


KEY = "a-signing-key-of-32-characters-."
BAD_KEYS = [
    ({"INKWELL_SECRET": " , "}, "", "INKWELL_SECRET holds no key: unset it, or give one"),
    ({"INKWELL_SECRET": f"{KEY},short"}, "", "INKWELL_SECRET: each key must be at least 32"),
    ({}, "", "secret.key holds no key: delete it to have one made, or write one"),
    ({}, "not hex\n", "secret.key: each line must be a key in hex"),
]


@pytest.mark.parametrize(("env", "key_file", "message"), BAD_KEYS)
def test_signing_keys_that_cannot_sign_well_are_refused(
    tmp_path: Path, env: dict[str, str], key_file: str, message: str
) -> None:
    if not env:
        (tmp_path / "secret.key").write_text(key_file)
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"INKWELL_DATA_DIR": str(tmp_path), **env})
    assert message in str(refused.value)


def test_a_data_directory_that_cannot_hold_the_key_file_is_named_in_one_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "a-file").write_text("")
    # INKWELL_SECRET empty counts as unset: the key file is to be made there.
    env = {"INKWELL_DATA_DIR": str(tmp_path / "a-file" / "data"), "INKWELL_SECRET": ""}
    env["PORT"] = str(free_port())  # serve checks it can listen first: 8000 may be taken
    ran = run_cli(env, tmp_path, "serve")
    assert ran.returncode == 2
    assert ran.stderr.strip().startswith(
        f"the signing key file {tmp_path}/a-file/data/secret.key cannot be made or read "
        "(Not a directory)"
    ), ran.stderr
    assert "Traceback" not in ran.stdout + ran.stderr


def test_a_log_that_cannot_take_a_write_stops_the_commands_that_write(tmp_path: Path) -> None:
    """SQLite opens a log on a read-only disk and reads it: `serve` started, /ready said
    ready, and the first mutation was UNAVAILABLE (an outside probe). The commands that
    only read it still do."""
    with read_only_log(tmp_path) as url:
        # No Redis answers there: a command that got past the log's check would stop at
        # it, not start on the suite's Redis (a serve at the parent commit did).
        env = {
            "DATABASE_URL": url,
            "INKWELL_DATA_DIR": str(tmp_path / "data"),
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        }
        for command in (("serve",), ("api",), ("seed", "--users", "1")):
            ran = run_cli(env, tmp_path, *command)
            assert ran.returncode == 2, (command, ran.stderr)
            assert ran.stderr.strip() == (
                f"the event log at {url} cannot be written: attempt to write a readonly database"
            ), ran.stderr
        read = run_cli(env, tmp_path, "events", "tail")
        assert read.returncode == 0, read.stderr
        assert "Traceback" not in read.stdout + read.stderr


@pytest.mark.parametrize("command", ["serve", "project", "verify", "rebuild"])
def test_production_refuses_a_redis_that_may_evict_in_one_line(
    private_redis: PrivateRedis, tmp_path: Path, command: str
) -> None:
    """Refused by the server's own check, in uvicorn's lifespan: a traceback and exit 3
    from `serve` and `api`, 113 lines of one from `project`, 109 from `verify` (exit 1,
    its code for differences); `rebuild` built into that Redis without a word (outside
    probes)."""
    make_log(f"sqlite:///{tmp_path / 'inkwell.db'}")  # verify and rebuild need one
    with private_redis.client() as admin:
        admin.config_set("maxmemory-policy", "allkeys-lru")
    env = {
        "INKWELL_ENV": "production",
        "REDIS_URL": private_redis.url,
        "INKWELL_DATA_DIR": str(tmp_path),
    }
    ran = run_cli(env, tmp_path, command)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    said = ran.stderr.strip().splitlines()[-1]
    assert said.startswith("Redis's maxmemory-policy is allkeys-lru:"), ran.stderr
    assert said.endswith("Refusing to start (INKWELL_ENV=production).")
    assert "Traceback" not in ran.stdout + ran.stderr


def test_a_key_of_32_characters_signs(tmp_path: Path) -> None:
    settings = Settings.from_env({"INKWELL_DATA_DIR": str(tmp_path), "INKWELL_SECRET": KEY})
    assert settings.signing_key == KEY.encode()
    assert not (tmp_path / "secret.key").exists()


@pytest.mark.parametrize("command", ["serve", "status", "verify"])
def test_a_database_that_cannot_be_opened_is_named_in_one_line_without_its_password(
    tmp_path: Path, command: str
) -> None:
    """`serve` printed uvicorn's "Application startup failed" under a traceback, `status`
    a traceback of 530 lines."""
    port = free_port()  # nothing listens there
    env = {
        "DATABASE_URL": f"postgresql+psycopg://inkwell:hunter2@127.0.0.1:{port}/none",
        "INKWELL_DATA_DIR": str(tmp_path),
        "PORT": str(free_port()),  # serve checks it can listen first: not 8000, maybe taken
    }
    ran = run_cli(env, tmp_path, command)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert ran.stderr.startswith(
        f"the event log at postgresql+psycopg://inkwell:***@127.0.0.1:{port}/none cannot be "
        f'opened or migrated: connection failed: connection to server at "127.0.0.1", '
        f"port {port} failed"
    ), ran.stderr
    assert ran.stderr.count("\n") == 1
    assert "hunter2" not in ran.stdout + ran.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "INKWELL_LOG_LEVEL",
            "LOUD",
            "INKWELL_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
        ),
        ("INKWELL_LOG_FORMAT", "xml", "INKWELL_LOG_FORMAT must be one of json, text, auto"),
    ],
)
def test_log_settings_are_refused_in_one_line_before_any_command(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    """A bad level was an 84-line traceback from logging.config; a bad format, ignored."""
    ran = run_cli({"INKWELL_DATA_DIR": str(tmp_path), name: value}, tmp_path, "status")
    assert ran.returncode == 2
    assert ran.stderr.strip() == message


# redis-py reads a password from the URL's user part or from its query: masked in the
# first, left out of the second.
REDIS_PASSWORDS = [
    ("serve", "redis://:hunter2@127.0.0.1:{port}/0", "redis://:***@127.0.0.1:{port}/0"),
    ("status", "redis://:hunter2@127.0.0.1:{port}/0", "redis://:***@127.0.0.1:{port}/0"),
    ("seed", "redis://:hunter2@127.0.0.1:{port}/0", "redis://:***@127.0.0.1:{port}/0"),
    (
        "status",
        "redis://127.0.0.1:{port}/0?password=hunter2",
        "redis://127.0.0.1:{port}/0",
    ),
]


@pytest.mark.parametrize(("command", "url", "shown"), REDIS_PASSWORDS)
def test_a_redis_that_does_not_answer_is_named_in_one_line_without_its_password(
    tmp_path: Path, command: str, url: str, shown: str
) -> None:
    """`serve` exited 3 under uvicorn's traceback, `status`, `seed` and `verify` printed
    260-320 lines."""
    port = free_port()  # nothing listens there
    env = {"REDIS_URL": url.format(port=port), "INKWELL_DATA_DIR": str(tmp_path)}
    make_log(database_url_in(env))  # as the server left it
    ran = run_cli(env, tmp_path, command)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert ran.stderr.strip().startswith(
        f"REDIS_URL {shown.format(port=port)} does not answer: Error 111 connecting"
    ), ran.stderr
    assert "hunter2" not in ran.stdout + ran.stderr


@pytest.mark.parametrize("command", ["serve", "status"])
def test_a_metrics_directory_that_holds_other_files_is_refused(
    tmp_path: Path, command: str
) -> None:
    """PROMETHEUS_MULTIPROC_DIR set to the data directory: prometheus-client read the SQLite
    log there as a metrics file, and every /metrics answered 500 under a traceback."""
    data = tmp_path / "data"
    data.mkdir()
    env = {"INKWELL_DATA_DIR": str(data), "PROMETHEUS_MULTIPROC_DIR": str(data)}
    make_log(database_url_in(env))  # the server's, from an earlier start
    ran = run_cli(env, tmp_path, command)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert ran.stderr.strip() == (
        f"PROMETHEUS_MULTIPROC_DIR must be a directory of its own: {data} holds inkwell.db, "
        "which /metrics would read as a metrics file, and fail on"
    )


def test_a_metrics_directory_of_its_own_is_taken_with_the_files_it_keeps(
    tmp_path: Path,
) -> None:
    """The files a stopped server left there are prometheus-client's own: a restart takes
    them (docs say to empty the directory; forgetting to must not stop the server)."""
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    for name in ("counter_41.db", "gauge_livesum_41.db", "histogram_41.db"):
        (metrics / name).touch()
    env = {"INKWELL_DATA_DIR": str(tmp_path / "data"), "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    settings = Settings.from_env(env)
    assert settings.metrics_dir == metrics


@pytest.mark.parametrize("host", ["bogus.invalid", "999.1.1.1"])
def test_a_host_that_does_not_resolve_is_refused_before_anything_starts(
    tmp_path: Path, prefix: str, host: str
) -> None:
    """`serve` started Redis and its projector process, then uvicorn failed to bind:
    "Name or service not known" under uvicorn's error, exit 3."""
    env = {"INKWELL_DATA_DIR": str(tmp_path), "INKWELL_PREFIX": prefix, "HOST": host}
    ran = run_cli(env, tmp_path, "serve")
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert ran.stderr.startswith(
        f"HOST must be an address or a name of this machine, not {host!r} ("
    ), ran.stderr
    assert ran.stderr.count("\n") == 1


@pytest.mark.parametrize("command", [["serve"], ["api"], ["project", "--port", "{port}"]])
def test_an_address_that_cannot_be_listened_on_is_refused_before_anything_starts(
    tmp_path: Path, prefix: str, command: list[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"INKWELL_DATA_DIR": str(tmp_path), "INKWELL_PREFIX": prefix, "PORT": str(port)}
        ran = run_cli(env, tmp_path, *(part.format(port=port) for part in command))
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert ran.stderr.strip() == (
        f"cannot listen on HOST=127.0.0.1 PORT={port}: Address already in use"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("INKWELL_RATE_LIMIT_REQUESTS", "lots"),
        ("INKWELL_TRUSTED_DOCUMENTS", "{bad}"),
        ("INKWELL_PREFIX", "a b"),
        ("INKWELL_TRUSTED_PROXIES", "10.0.0.0/33"),
    ],
)
def test_serve_refuses_in_one_line_what_reached_uvicorn_or_passed(
    tmp_path: Path, prefix: str, name: str, value: str
) -> None:
    """As an outside probe ran them: each ended in a traceback and exit 3, or started."""
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    env = {"INKWELL_DATA_DIR": str(tmp_path), "INKWELL_PREFIX": prefix}
    env["PORT"] = str(free_port())  # serve checks it can listen first: 8000 may be taken
    env[name] = value.format(bad=bad)
    ran = run_cli(env, tmp_path, "serve")
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert ran.stderr.startswith(name), ran.stderr
    assert ran.stderr.count("\n") == 1
