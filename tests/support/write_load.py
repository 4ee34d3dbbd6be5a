"""A steady load of writes from several clients, and what the server acknowledged of it.

For tests that bring faults on a served Inkwell while clients keep writing: every write
the server acknowledged must be readable afterwards (`assert_readable`).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx

from tests.support import operations as ops
from tests.support.api import Api
from tests.support.cli import run_cli

CREATE = "mutation($i: CreatePostInput!) { createPost(input: $i) { postId position } }"
PUBLISH = "mutation($i: PostCommandInput!) { publishPost(input: $i) { position } }"
LIKE = "mutation($i: PostCommandInput!) { likePost(input: $i) { position } }"
COMMENT = "mutation($i: AddCommentInput!) { addComment(input: $i) { position } }"
REGISTER = "mutation($i: RegisterUserInput!) { registerUser(input: $i) { token position } }"
WRITERS = 3
# Each writer's pause between writes: a steady load of at most about 150 writes/s. Flat
# out, the writers outran the projectors on a busy machine, and each check that the
# read models caught up waited on thousands of events (test_faults_under_load took 34 s
# alone and 160 s within the suite).
PACE_SECONDS = 0.02


class Acknowledged:
    """What the server said it did: published posts, likes and comments, and the newest
    position it answered. Writes whose answer never came are not counted."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.titles: dict[str, str] = {}
        self.likes: Counter[str] = Counter()
        self.comments: Counter[str] = Counter()
        self.writes = 0
        self.head = 0
        self.server_errors: list[str] = []
        self.refusals: Counter[str] = Counter()  # GraphQL errors, by extensions.code

    def wrote(self, position: str, record: Callable[[], None] = lambda: None) -> None:
        with self.lock:
            record()
            self.writes += 1
            self.head = max(self.head, int(position))

    def published(self) -> list[str]:
        with self.lock:
            return list(self.titles)

    def wait_for_more(self, count: int, timeout: float = 60) -> None:
        target = self.writes + count
        deadline = time.monotonic() + timeout
        while self.writes < target:
            assert time.monotonic() < deadline, f"the load stalled at {self.writes} writes"
            time.sleep(0.02)


class Writer:
    """One client: a user of its own who creates and publishes posts, likes others'
    (each once) and comments on them, until told to stop. A lost connection or an error
    only means that write is not acknowledged; a 5xx is recorded as a failure."""

    def __init__(self, url: str, name: str, done: Acknowledged, stop: threading.Event) -> None:
        self.client = httpx.Client(base_url=url, timeout=30)
        self.name = name
        self.done = done
        self.stop = stop
        self.token: str | None = None
        self.liked: set[str] = set()

    def run(self) -> None:
        try:
            while not self.stop.wait(PACE_SECONDS):
                self._step()
        finally:
            self.client.close()

    def _step(self) -> None:
        if self.token is None:
            if registered := self._send(REGISTER, {"name": self.name}):
                self.token = registered["registerUser"]["token"]
            return
        choice = random.random()
        published = self.done.published()
        if choice < 0.4 or not published:
            self._publish_a_post()
        elif choice < 0.7:
            post_id = random.choice(published)
            if post_id not in self.liked and (answer := self._send(LIKE, {"postId": post_id})):
                self.liked.add(post_id)
                self.done.wrote(answer["likePost"]["position"], lambda: self._count_like(post_id))
        elif answer := self._send(COMMENT, {"postId": (post_id := random.choice(published)),
                                             "body": "Seen."}):  # fmt: skip
            self.done.wrote(answer["addComment"]["position"], lambda: self._count_comment(post_id))

    def _publish_a_post(self) -> None:
        title = f"{self.name} {random.getrandbits(32):08x}"
        created = self._send(CREATE, {"title": title, "content": "Under load."})
        if created is None:
            return
        post_id = created["createPost"]["postId"]
        self.done.wrote(created["createPost"]["position"])
        if published := self._send(PUBLISH, {"postId": post_id}):
            self.done.wrote(
                published["publishPost"]["position"], lambda: self._count_title(post_id, title)
            )

    def _count_like(self, post_id: str) -> None:
        self.done.likes[post_id] += 1

    def _count_comment(self, post_id: str) -> None:
        self.done.comments[post_id] += 1

    def _count_title(self, post_id: str, title: str) -> None:
        self.done.titles[post_id] = title

    def _send(self, mutation: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = self.client.post(
                "/graphql", json={"query": mutation, "variables": {"i": fields}}, headers=headers
            )
        except httpx.TransportError:
            time.sleep(0.05)  # the server is down or going down: try again shortly
            return None
        if response.status_code >= 500:
            self.done.server_errors.append(f"{response.status_code}: {response.text[:300]}")
            return None
        body: dict[str, Any] = response.json()
        if errors := body.get("errors"):
            with self.done.lock:
                self.done.refusals[errors[0].get("extensions", {}).get("code")] += 1
            return None
        data: dict[str, Any] = body["data"]
        return data


@contextmanager
def load(url: str) -> Iterator[Acknowledged]:
    done, stop = Acknowledged(), threading.Event()
    writers = [Writer(url, f"Writer {n}", done, stop) for n in range(WRITERS)]
    threads = [threading.Thread(target=writer.run) for writer in writers]
    for thread in threads:
        thread.start()
    try:
        yield done
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


def assert_readable(api: Api, done: Acknowledged, timeout: float = 60) -> None:
    """Every post, like and comment acknowledged so far is in the read models, once they
    have caught up with the newest acknowledged position."""
    with done.lock:
        head, titles = done.head, dict(done.titles)
        likes, comments = Counter(done.likes), Counter(done.comments)
    assert titles, "no post was published under the load"
    deadline = time.monotonic() + timeout
    while True:
        body = api.call(ops.PROJECTIONS, headers={"X-Consistent-With": str(head)})
        if "errors" not in body and all(
            status["position"] >= head for status in body["data"]["projections"]
        ):
            break
        assert time.monotonic() < deadline, f"the read models never reached {head}: {body}"
        time.sleep(0.1)
    for post_id, title in titles.items():
        post = api.ok(ops.POST, {"id": post_id})["post"]
        assert post is not None and post["title"] == title, (post_id, title, post)
        # At least: a write that committed as its connection dropped counts too.
        assert post["likeCount"] >= likes[post_id], post
        assert post["commentCount"] >= comments[post_id], post


def assert_exact(api: Api, done: Acknowledged, env: dict[str, str], cwd: Path) -> None:
    """What a load leaves after its faults: no 5xx answered, every acknowledged write
    readable, and the read models equal to a replay of the log (`inkwell verify`)."""
    assert not done.server_errors, done.server_errors
    assert_readable(api, done)
    verified = run_cli(env, cwd, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
