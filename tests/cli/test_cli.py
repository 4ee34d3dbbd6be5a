"""The operator's command line: help everywhere, status, events tail, seed; on the real stores."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest
import redis
import typer
from sqlalchemy import create_engine, text
from typer.testing import CliRunner, Result

from cli import status as status_command
from cli.commands import cli
from domain.commands import RegisterUser, UpdateProfile
from harness.net import free_port
from harness.redis_keys import forget
from harness.server_process import ROOT
from infra.settings import Settings
from projections.keyspace.keys import Keys
from projections.projectors.holders import PROJECTOR
from projections.projectors.lease import holder_id
from projections.readers.pagination import Slice
from tests.support.cli import cli_env, run_cli
from tests.support.in_process import author_with_posts, send, settle
from tests.support.log import make_log
from wiring.bootstrap import PROJECTIONS, running

COMMANDS = [
    ["serve"],
    ["api"],
    ["project"],
    ["demo"],
    ["status"],
    ["events"],
    ["events", "tail"],
    ["seed"],
    ["schema"],
    ["rebuild"],
    ["verify"],
    ["parked"],
    ["parked", "list"],
    ["parked", "retry"],
    ["parked", "skip"],
]


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    return cli_env(settings, tmp_path)


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def given(settings: Settings, *, projectors: bool = True) -> str:
    """An author with two published posts and a draft; returns the author's id."""

    async def write() -> str:
        async with running(settings, projectors=projectors) as inkwell:
            author = await author_with_posts(inkwell, published=2, drafts=1)
            if projectors:
                await settle(inkwell)
            return author

    return asyncio.run(write())


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    # Rich takes "[default: all]" in a help text for markup and prints "Only this projection ."
    assert " ." not in result.stdout, result.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_word_of_a_help_text_is_printed(command: list[str]) -> None:
    """Help is rendered as Markdown, which took `post-<id>` for an HTML tag and printed
    `post-` (an outside probe): each word of the docstring and of every option's help
    is printed, code spans without their backticks."""
    click_command = typer.main.get_command(cli)
    for name in command:
        click_command = click_command.commands[name]  # type: ignore[attr-defined]
    shown = [p for p in click_command.params if not getattr(p, "hidden", False)]
    sources = [click_command.help or ""] + [getattr(p, "help", None) or "" for p in shown]
    result = CliRunner().invoke(cli, [*command, "--help"], env={"COLUMNS": "300"})
    printed = {word.strip(".,;:()") for word in re.findall(r"[^\s│╭╮╰╯─]+", result.stdout)}
    for source in sources:
        for word in re.findall(r"\S+", source.replace("`", "")):
            assert word.strip(".,;:()") in printed, (word, result.stdout)


@pytest.mark.parametrize("command", [["list"], ["retry"], ["skip", "999"]])
def test_parked_commands_name_an_unknown_projection_in_one_line(command: list[str]) -> None:
    """It was a traceback ending in ValueError, exit 1."""
    result = CliRunner().invoke(cli, ["parked", *command, "--projection", "nope"])
    assert result.exit_code == 2, result.output
    assert "no projection 'nope'" in result.output and "Traceback" not in result.output


def test_status_shows_every_projection_caught_up(settings: Settings, env: dict[str, str]) -> None:
    given(settings)
    result = invoke(env, "status")
    assert result.exit_code == 0, result.output
    rows = {
        line.split("│")[1].strip(): line
        for line in result.stdout.splitlines()
        if line.count("│") > 5 and "projection" not in line
    }
    assert set(rows) == {projection.name for projection in PROJECTIONS}
    for row in rows.values():
        cells = [cell.strip() for cell in row.split("│")[2:-1]]
        position, head, lag, _lag_seconds, state, parked = cells[:6]
        assert (position, head, lag, state, parked) == ("6", "6", "0", "caught up", "0")


def test_status_says_when_the_sqlite_logs_disk_is_nearly_full_and_exits_1(
    settings: Settings, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk refuses every commit and only a write shows it: status, which writes
    nothing, said all was well while every mutation answered UNAVAILABLE. (No test can
    fill this machine's disk: the bound is raised past any disk instead.)"""
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("the disk check is a SQLite log's")
    given(settings)
    assert invoke(env, "status").exit_code == 0
    monkeypatch.setattr(status_command, "LOW_DISK_BYTES", 1 << 62)
    result = invoke(env, "status")
    assert result.exit_code == 1, result.output
    assert "the disk holding the SQLite log has" in result.stdout


def test_status_marks_stalled_projections_and_exits_1(
    settings: Settings, env: dict[str, str]
) -> None:
    given(settings, projectors=False)
    # A projector holds every lease and applies nothing (paused, say).
    holder = holder_id("the-log", "project")
    with redis.Redis.from_url(env["REDIS_URL"]) as client:
        client.mset({Keys(settings.prefix).lease(p.name): holder for p in PROJECTIONS})
    result = invoke({**env, "INKWELL_READY_STALLED_AFTER": "0"}, "status")
    assert result.exit_code == 1, result.output
    # In the table, and a line each that says what is stuck (there was no line).
    assert result.stdout.count("stalled") == 2 * len(PROJECTIONS)
    assert "posts: stalled: 6 events waiting for" in " ".join(result.stdout.split())
    assert "does a projector run?" in result.stdout


def test_status_says_when_no_projector_holds_a_lease_and_exits_1(
    settings: Settings, env: dict[str, str]
) -> None:
    """Events waiting and no projector anywhere: status said "catching up" and exited 0
    for the 30 s before a lag counts as stalled (an outside probe, every projector
    killed)."""
    given(settings)
    given(settings, projectors=False)  # written since, and no projector runs
    result = invoke(env, "status")
    assert result.exit_code == 1, result.output
    assert result.stdout.count("no projector") == 2 * len(PROJECTIONS)
    said = " ".join(result.stdout.split())
    assert "posts: 6 events waiting and no projector holds its lease" in said
    assert "catching up" not in said and "stalled" not in said


def test_status_names_a_prefix_with_no_read_models(settings: Settings, env: dict[str, str]) -> None:
    """A mistyped INKWELL_PREFIX read as a deployment whose projector never ran, and only
    "start `serve`" was said, which would build read models under it (an outside probe)."""
    given(settings)
    mistyped = f"{settings.prefix}-typo"
    result = invoke({**env, "INKWELL_PREFIX": mistyped}, "status")
    assert result.exit_code == 1, result.output
    said = " ".join(result.stdout.split())
    assert f"there are no read models under prefix '{mistyped}' in that Redis" in said
    assert "is INKWELL_PREFIX the server's?" in said
    assert "start `serve`" not in said  # which would build them under the mistyped one
    assert "there are no read models" not in " ".join(invoke(env, "status").stdout.split())


def test_rebuild_under_a_mistyped_prefix_refuses_and_builds_nothing(
    settings: Settings, env: dict[str, str]
) -> None:
    """It built a whole new set of read models under the typo and said \"rebuilt\", the
    servers' untouched (an outside probe). Under the right prefix it rebuilds, and with
    no read models anywhere (all lost) it builds them."""
    given(settings)
    typo = f"{settings.prefix}-typo"
    assert settings.redis_url is not None
    try:
        refused = invoke({**env, "INKWELL_PREFIX": typo}, "rebuild")
        assert refused.exit_code == 2, refused.output
        said = " ".join(refused.output.split())
        assert f"there are no read models under prefix '{typo}'" in said
        assert f"this event log's are under '{settings.prefix}'" in said
        assert keys_under(settings, typo) == set()
    finally:
        forget(settings.redis_url, typo)
    assert invoke(env, "rebuild").exit_code == 0
    forget(settings.redis_url, settings.prefix)
    rebuilt = invoke(env, "rebuild")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert keys_under(settings, settings.prefix)


def test_status_names_the_projectors_rebuild_after_redis_lost_its_data(
    settings: Settings, env: dict[str, str]
) -> None:
    """Redis flushed under a running server: while the projector rebuilt on its own, status
    said "stalled ... applied never", "no projector", "does a projector run?" and "there
    are no read models under prefix" (an outside probe). Here every key is gone, each
    rebuild lock names the projector, and two projections' leases came back."""
    given(settings)
    keys = Keys(settings.prefix)
    forget(env["REDIS_URL"], settings.prefix)
    with redis.Redis.from_url(env["REDIS_URL"]) as client:
        client.mset({keys.rebuilding(p.name): holder_id("the-log", PROJECTOR) for p in PROJECTIONS})
        client.mset({keys.lease(name): holder_id("the-log") for name in ("posts", "users")})
    result = invoke(env, "status")
    assert result.exit_code == 1, result.output  # queries answer from an empty Redis
    said = " ".join(result.stdout.split())
    for projection in PROJECTIONS:
        assert (
            f"{projection.name}: 6 events behind the log's head, rebuilding: the projector "
            f"(process {os.getpid()} on host"
        ) in said
    for blame in ("stalled", "no projector", "does a projector run?", "no read models"):
        assert blame not in said, blame


@pytest.mark.postgres  # a SQLite reader never waits for a writer's lock (WAL)
def test_status_says_when_the_log_does_not_answer_and_exits_1(
    settings: Settings, env: dict[str, str], postgres_url: str
) -> None:
    """It waited silently for as long as a lock on the events table lasted (35 s, then
    killed), and with a shorter one printed "caught up" and exited 0."""
    settings = dataclasses.replace(settings, database_url=postgres_url)
    env = {**env, "DATABASE_URL": postgres_url}
    given(settings)
    locker = create_engine(postgres_url)
    locked, answered = threading.Event(), threading.Event()

    def hold_the_lock() -> None:  # until status has answered, 20 s at most
        with locker.connect() as conn:
            conn.execute(text("LOCK TABLE events IN ACCESS EXCLUSIVE MODE"))
            locked.set()
            answered.wait(20)
            conn.rollback()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        result = invoke(env, "status")
        took = time.monotonic() - started
    finally:
        answered.set()
        holder.join()
        locker.dispose()
    assert result.exit_code == 1, result.output
    assert "the event log does not answer within 5 s" in result.stdout
    assert took < 15
    assert invoke(env, "status").exit_code == 0  # the lock gone, all is well again


def test_status_without_redis_url_or_a_running_server_says_so(env: dict[str, str]) -> None:
    make_log(env["DATABASE_URL"])
    result = invoke({**env, "REDIS_URL": ""}, "status")
    assert result.exit_code == 2
    assert "REDIS_URL" in result.output and "inkwell serve" in result.output


@pytest.mark.parametrize(
    "command", [["status"], ["verify"], ["rebuild"], ["events", "tail"], ["parked", "list"]]
)
def test_a_command_run_where_there_is_no_log_makes_none_and_says_so(
    tmp_path: Path, redis_url: str, prefix: str, command: list[str]
) -> None:
    """`status` run outside the server's directory made an empty log and a signing key
    there, and reported that log as caught up (`rebuild` would have swapped read models
    built from it into the server's Redis). Commands that work on a deployment refuse."""
    env = {"REDIS_URL": redis_url, "INKWELL_PREFIX": prefix, "INKWELL_SECRET": ""}
    ran = run_cli(env, tmp_path, *command)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert ran.stderr.strip() == (
        f"there is no event log at sqlite:///data/inkwell.db (from {tmp_path}): run this "
        "command in the directory the server runs in, or set INKWELL_DATA_DIR or "
        "DATABASE_URL as the server has them"
    )
    assert list(tmp_path.iterdir()) == []


def test_events_tail_prints_the_newest_events_and_one_stream(
    settings: Settings, env: dict[str, str]
) -> None:
    author = given(settings, projectors=False)

    everything = invoke(env, "events", "tail", "--json")
    assert everything.exit_code == 0, everything.output
    events = [orjson.loads(line) for line in everything.stdout.splitlines()]
    assert [e["position"] for e in events] == [1, 2, 3, 4, 5, 6]
    assert events[0]["type"] == "UserRegistered" and events[0]["data"]["user_id"] == author
    assert all(e["command_id"] and e["correlation_id"] for e in events)

    newest = invoke(env, "events", "tail", "-n", "2", "--json")
    assert [orjson.loads(line)["position"] for line in newest.stdout.splitlines()] == [5, 6]

    one = invoke(env, "events", "tail", "--stream", f"user-{author}")
    assert one.exit_code == 0, one.output
    [line] = one.stdout.splitlines()
    assert f"user-{author} v1" in line and "UserRegistered" in line and "command=" in line

    # Past PostgreSQL's bigint: a usage error, not a traceback from the database.
    too_many = invoke(env, "events", "tail", "-n", str(2**63))
    assert too_many.exit_code == 2 and "Traceback" not in too_many.output

    # It reads the log alone: with Redis down it still shows it (it had exited 2, "does
    # not answer", in the outage an operator reads the log to understand).
    down = invoke({**env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}, "events", "tail")
    assert down.exit_code == 0, down.output
    assert len(down.stdout.splitlines()) == 6


def test_events_tail_follow_prints_each_new_event_as_it_commits(
    settings: Settings, env: dict[str, str]
) -> None:
    author = given(settings, projectors=False)
    follower = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "server.py"),
            "events",
            "tail",
            "--follow",
            "--json",
            "--stream",
            f"user-{author}",
        ],
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert follower.stdout is not None
        assert orjson.loads(follower.stdout.readline())["type"] == "UserRegistered"

        async def rename() -> None:
            async with running(settings, projectors=False) as inkwell:
                await send(inkwell, RegisterUser("Someone else"))
                await send(inkwell, UpdateProfile(name="Ann Again"), author)

        started = time.monotonic()
        asyncio.run(rename())
        followed = orjson.loads(follower.stdout.readline())
        assert followed["type"] == "ProfileUpdated" and followed["data"]["name"] == "Ann Again"
        assert followed["stream_id"] == f"user-{author}"
        assert time.monotonic() - started < 30
    finally:
        follower.terminate()
        follower.wait(timeout=30)


def test_seed_sends_sample_data_through_the_command_bus(
    settings: Settings, env: dict[str, str]
) -> None:
    result = invoke(env, "seed", "--posts", "10", "--users", "3", "--random-seed", "7")
    assert result.exit_code == 0, result.output
    assert "seeded 3 users, 10 posts, 8 published" in result.stdout
    assert "the read models show it all" in result.stdout

    async def read() -> tuple[int, int]:
        async with running(settings, projectors=False) as inkwell:
            page = await inkwell.services.reads.recent_posts(Slice(100))
            assert isinstance(page.total, int)  # a sorted set's size, read with the page
            return page.total, await inkwell.store.head_position()

    published, head = asyncio.run(read())
    assert published == 8
    assert head == 3 + 10 + 8


def keys_under(settings: Settings, prefix: str) -> set[str]:
    assert settings.redis_url is not None
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        return set(client.scan_iter(match=f"{prefix}:*", count=1000))
    finally:
        client.close()


def test_verify_projects_nothing_and_says_when_no_projector_brings_the_read_models_up(
    settings: Settings, env: dict[str, str]
) -> None:
    """It ran projectors of its own when none ran: read models left behind were brought
    up by verify itself, which then said they matched (an outside probe)."""
    given(settings)
    given(settings, projectors=False)  # written by an API process; no projector since
    before = keys_under(settings, settings.prefix)
    result = invoke(env, "verify")
    assert result.exit_code == 1, result.output
    said = " ".join(result.stdout.split())
    assert "the read models are behind the log's head (12) and no projector runs" in said
    assert keys_under(settings, settings.prefix) == before


@pytest.mark.parametrize(
    "command",
    [("verify",), ("parked", "list"), ("parked", "retry"), ("parked", "skip", "3")],
    ids=" ".join,
)
def test_a_command_under_a_prefix_without_read_models_refuses_and_writes_nothing(
    settings: Settings, env: dict[str, str], command: tuple[str, ...]
) -> None:
    """A mistyped INKWELL_PREFIX had verify build read models there and say they matched,
    and `parked list` say nothing was parked, writing a binding there (an outside probe)."""
    given(settings)
    typo = f"{settings.prefix}-typo"
    assert settings.redis_url is not None
    try:
        result = invoke({**env, "INKWELL_PREFIX": typo}, *command)
        assert result.exit_code == 2, result.output
        said = " ".join(result.output.split())
        assert f"there are no read models under prefix '{typo}'" in said
        assert keys_under(settings, typo) == set()
    finally:  # what the old commands wrote there
        forget(settings.redis_url, typo)
