"""Bad rows in the events table of a running server, handled as an operator would.

The rows are written straight into the server's SQLite file, as a newer release,
a bad migration or a hand edit would leave them. Nothing is simulated: the
server's own projectors read them from the log.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson

from harness.server_process import ServerProcess
from tests.support import operations as ops
from tests.support.api import Api, http_api
from tests.support.cli import run_cli
from tests.support.waiting import until_true

PROJECTIONS = "{ projections { name position headPosition lag parked parkedStreams } }"


def insert_event(database: Path, stream_id: str, version: int, kind: str, data: str) -> int:
    """Appends a row as something other than this release's writer would: returns its position."""
    meta = orjson.dumps(
        {
            "command_id": f"hand-{stream_id}-{version}",
            "command_type": "Hand",
            "actor_id": None,
            "correlation_id": "hand-edit",
        }
    ).decode()
    with sqlite3.connect(database) as db:
        cursor = db.execute(
            "INSERT INTO events (stream_id, version, type, schema_version, data, metadata,"
            " recorded_at) VALUES (?, ?, ?, 1, ?, ?, ?)",
            (stream_id, version, kind, data, meta, _now()),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid


def fix_event(database: Path, position: int, kind: str, data: str) -> None:
    with sqlite3.connect(database) as db:
        db.execute(
            "UPDATE events SET type = ?, data = ? WHERE position = ?", (kind, data, position)
        )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def projections(api: Api) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in api.ok(PROJECTIONS)["projections"]}


def metric(server: ServerProcess, name: str, projection: str) -> float | None:
    text = httpx.get(f"{server.url}/metrics").text
    for line in text.splitlines():
        if line.startswith(f'{name}{{projection="{projection}"}} '):
            return float(line.split()[-1])
    return None


def test_a_bad_row_parks_its_stream_in_order_while_everything_else_flows(
    server: ServerProcess, server_env: dict[str, str], tmp_path: Path
) -> None:
    database = Path(server_env["DATABASE_URL"].removeprefix("sqlite:///"))
    wide = {**server_env, "COLUMNS": "300"}  # so rich does not wrap the tables
    api = http_api(server)
    ann, bob = api.register("Ann"), api.register("Bob")
    draft = api.create_post(ann, "Draft")
    # A newer release's event type, then an event this release knows, behind it.
    pinned = insert_event(database, f"post-{draft['id']}", 2, "PostPinned", '{"pinned": true}')
    published = insert_event(
        database,
        f"post-{draft['id']}",
        3,
        "PostPublished",
        orjson.dumps(
            {
                "post_id": draft["id"],
                "author_id": ann.id,
                "published_at": datetime.now(UTC).isoformat(),
            }
        ).decode(),
    )
    # A known type whose JSON is broken, then a good profile update behind it.
    broken = insert_event(database, f"user-{bob.id}", 2, "ProfileUpdated", '{"user_id": "')
    renamed = insert_event(
        database,
        f"user-{bob.id}",
        3,
        "ProfileUpdated",
        orjson.dumps(
            {
                "user_id": bob.id,
                "name": "Bobby",
                "avatar_url": None,
                "bio": "",
                "updated_at": datetime.now(UTC).isoformat(),
            }
        ).decode(),
    )

    # Other streams flow: new posts appear, fresh users can act at once.
    after = api.published_post(ann, "After the bad rows")
    fresh = [api.register(f"Fresh {n}") for n in range(10)]
    for account in fresh:
        api.create_post(account, "Mine")
    assert until_true(
        lambda: after["id"] in [e["node"]["id"] for e in api.ok(ops.RECENT)["recentPosts"]["edges"]]
    )
    head = fresh[-1].position
    until_true(lambda: all(p["position"] >= head for p in projections(api).values()))
    status = projections(api)
    # Each projection that reads post events parked the unknown one and the publish behind it.
    assert {name: (p["parked"], p["parkedStreams"]) for name, p in status.items()} == {
        "posts": (4, 2),  # the post's two, and Bob's broken profile and the rename behind it
        "users": (4, 2),
        "feeds": (2, 1),  # feeds ignore profiles: the broken one is no reason to stop Bob
        "search": (2, 1),
        "recent_events": (4, 2),  # it lists every event, so it waits on both streams too
    }
    assert api.ok(ops.POST, {"id": draft["id"]}, token=ann.token)["post"]["status"] == "DRAFT"
    assert api.ok(ops.USER, {"id": bob.id})["user"]["name"] == "Bob"
    assert api.ok(ops.POPULAR, {"first": 50})["popularPosts"]
    assert api.ok(ops.BY_AUTHOR, {"authorId": ann.id})["postsByAuthor"]["totalCount"] == 1

    ready = httpx.get(f"{server.url}/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "degraded"
    assert set(ready.json()["degraded"]) == {f"projection:{n}" for n in status}
    assert httpx.get(f"{server.url}/ready?strict").status_code == 503
    assert metric(server, "inkwell_projection_parked_events", "posts") == 4
    assert metric(server, "inkwell_projection_parked_streams", "feeds") == 1

    shown = run_cli(wide, tmp_path, "status")
    assert shown.returncode == 1 and "posts: 4 events parked in 2 streams" in shown.stdout
    listed = run_cli(wide, tmp_path, "parked", "list", "--projection", "posts")
    assert listed.returncode == 1, listed.stdout + listed.stderr
    assert f"waits behind {pinned}" in listed.stdout and "unknown event type" in listed.stdout
    lines = [line for line in listed.stdout.splitlines() if "│" in line and "posts" in line]
    assert [int(line.split("│")[2]) for line in lines] == [pinned, published, broken, renamed]
    # A replay parks the same events: no difference, but verify names what is left out.
    parked_verify = run_cli(wide, tmp_path, "verify")
    assert parked_verify.returncode == 0, parked_verify.stdout + parked_verify.stderr
    assert "posts: 4 events parked in 2 streams, left out" in parked_verify.stdout

    # The operator fixes the pinned row (it was an edit) and retries: the stream applies in order.
    fix_event(
        database,
        pinned,
        "PostUpdated",
        orjson.dumps(
            {
                "post_id": draft["id"],
                "author_id": ann.id,
                "title": "Fixed",
                "content": "Text.",
                "tags": [],
                "updated_at": datetime.now(UTC).isoformat(),
            }
        ).decode(),
    )
    retried = run_cli(wide, tmp_path, "parked", "retry", "--by", "alice")
    assert retried.returncode == 1, retried.stdout + retried.stderr  # Bob's is still broken
    post = api.ok(ops.POST, {"id": draft["id"]})["post"]
    assert (post["title"], post["status"]) == ("Fixed", "PUBLISHED")
    assert projections(api)["feeds"]["parked"] == 0

    # Bob's broken row cannot be repaired: skip it, and the rename behind it then applies.
    skipped = run_cli(wide, tmp_path, "parked", "skip", str(broken), "--by", "alice")
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert f"still parked behind it: {renamed}" in skipped.stdout
    # Again: nothing is parked there any more, and it says so (it exited 1 in silence).
    again = run_cli(wide, tmp_path, "parked", "skip", str(broken))
    assert again.returncode == 1
    assert f"nothing is parked at position {broken} in any projection" in again.stdout
    assert projections(api)["users"]["parked"] == 1
    assert run_cli(wide, tmp_path, "parked", "retry").returncode == 0
    assert api.ok(ops.USER, {"id": bob.id})["user"]["name"] == "Bobby"
    assert all(p["parked"] == 0 for p in projections(api).values())

    clean = run_cli(wide, tmp_path, "parked", "list", "--history", "20")
    assert clean.returncode == 0 and "no parked events" in clean.stdout
    assert (
        "alice retried posts" in clean.stdout
        and f"alice skipped users event {broken}" in clean.stdout
    )
    assert httpx.get(f"{server.url}/ready").json()["status"] == "ready"
    verified = run_cli(server_env, tmp_path, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "the read models match the log" in verified.stdout


def test_readers_skip_a_half_made_read_model_instead_of_failing_the_list(
    server: ServerProcess, server_env: dict[str, str]
) -> None:
    database = Path(server_env["DATABASE_URL"].removeprefix("sqlite:///"))
    api = http_api(server)
    ann, bob = api.register("Ann"), api.register("Bob")
    api.published_post(ann, "Fine")
    # A post whose creation cannot be decoded, published and liked: the like applies to a
    # post hash that never got its fields.
    post_id = "0b7e1d2c-1111-4a4a-8a8a-000000000001"
    now = datetime.now(UTC).isoformat()
    insert_event(database, f"post-{post_id}", 1, "PostCreated", "not json")
    insert_event(
        database,
        f"post-{post_id}",
        2,
        "PostPublished",
        orjson.dumps({"post_id": post_id, "author_id": ann.id, "published_at": now}).decode(),
    )
    insert_event(
        database,
        f"like-{post_id}-{bob.id}",
        1,
        "PostLiked",
        orjson.dumps({"post_id": post_id, "user_id": bob.id, "liked_at": now}).decode(),
    )
    api.published_post(ann, "Later")
    until_true(lambda: len(api.ok(ops.RECENT)["recentPosts"]["edges"]) == 2)
    until_true(lambda: projections(api)["posts"]["parked"] == 2)

    recent = api.ok(ops.RECENT)["recentPosts"]["edges"]
    assert [e["node"]["title"] for e in recent] == ["Later", "Fine"]
    assert [p["title"] for p in api.ok(ops.POPULAR, {"first": 10})["popularPosts"]] == [
        "Later",
        "Fine",
    ]
    assert api.ok(ops.BY_AUTHOR, {"authorId": ann.id})["postsByAuthor"]["totalCount"] >= 2
    assert api.ok(ops.POST, {"id": post_id})["post"] is None


def test_a_command_on_a_stream_with_an_unreadable_row_is_unavailable_and_changes_nothing(
    server: ServerProcess, server_env: dict[str, str]
) -> None:
    """Loading the post failed on its unreadable row, and the command answered
    INTERNAL_SERVER_ERROR ("Unexpected error.") with a traceback logged at each attempt:
    no code a client could act on, nothing naming what was wrong."""
    database = Path(server_env["DATABASE_URL"].removeprefix("sqlite:///"))
    api = http_api(server)
    ann = api.register("Ann")
    post = api.published_post(ann, "Fine")
    head = insert_event(database, f"post-{post['id']}", 3, "PostUpdated", '{"post_id": "')
    refused = api.error(ops.LIKE_POST, {"input": {"postId": post["id"]}}, token=ann.token)
    assert refused["extensions"] == {"code": "UNAVAILABLE"}
    assert refused["message"].startswith(f"post {post['id']} holds an event this server cannot")
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT max(position) FROM events").fetchone() == (head,)
