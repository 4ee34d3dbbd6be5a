"""`inkwell seed`: sample users, posts and publishes, sent through the real command bus."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cli.console import operator_console
from cli.environment import (
    quiet_per_command_logs,
    redis_or_exit,
    refused,
    settings_or_exit,
    stores_answering,
)
from domain.bus import Caller, CommandBus
from domain.commands import Command, CreatePost, PublishPost, RegisterUser
from domain.ports import Outcome
from infra.settings import Settings
from observability.redis_writes import write_refusal
from projections.live.consistency import ConsistencyTimeout
from wiring.bootstrap import Inkwell, running

# Commands in flight at once: enough for the writer to commit them in groups.
CONCURRENCY = 16
NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Leslie", "Tony")
WORDS = (
    "event",
    "stream",
    "projection",
    "command",
    "query",
    "aggregate",
    "snapshot",
    "replay",
    "checkpoint",
    "read model",
    "consistency",
    "log",
    "version",
    "saga",
    "outbox",
)
TAGS = ("cqrs", "events", "redis", "sql", "python", "graphql")
# The commands are made before any is sent: `--posts 99999999999999999999` grew memory
# by 90 MB a second and wrote nothing until it ended in a MemoryError (an outside probe).
# A sample blog's worth, with room: a benchmark's log is written by bench/sample_log.py.
MOST = 100_000


def seed(
    posts: Annotated[int, typer.Option(min=0, max=MOST, help="Posts to create.")] = 50,
    users: Annotated[
        int | None,
        typer.Option(min=1, max=MOST, help="Authors to register (default: posts/5, at least 1)."),
    ] = None,
    publish: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of the posts to publish.")
    ] = 0.8,
    random_seed: Annotated[int | None, typer.Option(help="For the same sample every time.")] = None,
) -> None:
    """Fills the blog with sample users, posts and publishes, with a progress bar.

    They are real commands, sent through the command bus.
    Then it waits until the read models show them.
    """
    settings = settings_or_exit(new_log=True, writes=True)
    quiet_per_command_logs()
    console = operator_console()
    authors = users or max(1, posts // 5)

    async def fill(settings: Settings) -> None:
        async with running(settings) as inkwell:
            await _takes_writes(inkwell)
            seeder = Seeder(inkwell.services.bus, console, random.Random(random_seed))
            seeded = await seeder.run(posts, authors, publish)
            console.print(
                f"seeded {seeded.users} users, {seeded.posts} posts, {seeded.published} "
                f"published; the log is at position {seeded.position}"
            )
            try:
                await inkwell.services.consistency.wait_for(seeded.position, timeout=60)
            except ConsistencyTimeout:
                await _takes_writes(inkwell)
                console.print("[yellow]the read models are still catching up[/]")
            else:
                console.print("the read models show it all")

    with redis_or_exit(settings) as with_redis, stores_answering("seed"):
        try:
            asyncio.run(fill(with_redis))
        except WritesRefused as refusal:
            # Said once the app has stopped: said inside it, the projectors' warnings as
            # they stopped could come after it, and the reason was not the last line.
            raise refused(f"seed: Redis refuses writes: {refusal}") from None


class WritesRefused(Exception):
    """Redis refuses writes: what it answered a write with."""


async def _takes_writes(inkwell: Inkwell) -> None:
    """Ends the command with exit code 2 when Redis refuses writes: no projector can show
    what it seeds. It had seeded, waited 60 s, and exited 0 saying the read models were
    still catching up (an outside probe, Redis out of memory)."""
    refusal = await write_refusal(inkwell.redis, inkwell.keys.write_probe())
    if refusal is not None:
        raise WritesRefused(refusal)


@dataclass(frozen=True)
class Seeded:
    users: int
    posts: int
    published: int
    position: int  # the log position of the last seeded event


class Seeder:
    def __init__(self, bus: CommandBus, console: Console, rng: random.Random) -> None:
        self._bus = bus
        self._console = console
        self._rng = rng
        self._correlation = f"seed-{uuid.uuid4().hex[:12]}"
        self._position = 0

    async def run(self, posts: int, users: int, publish_share: float) -> Seeded:
        to_publish = round(posts * publish_share)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self._console) as bar:
            task = bar.add_task("seeding", total=users + posts + to_publish)

            def done() -> None:
                bar.advance(task)

            user_ids = await self._all(
                [self._user_command(i) for i in range(users)], [None] * users, "user_id", done
            )
            authors = [user_ids[i % users] for i in range(posts)]
            post_ids = await self._all(
                [self._post_command() for _ in range(posts)], authors, "post_id", done
            )
            chosen = self._rng.sample(range(posts), to_publish)
            await self._all(
                [PublishPost(post_ids[i]) for i in chosen],
                [authors[i] for i in chosen],
                "post_id",
                done,
            )
        return Seeded(users, posts, to_publish, self._position)

    def _user_command(self, i: int) -> RegisterUser:
        name = NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else f" {i // len(NAMES) + 1}")
        return RegisterUser(name=name, bio=f"Writes about {self._rng.choice(WORDS)}s.")

    def _post_command(self) -> CreatePost:
        title = " ".join(self._rng.sample(WORDS, 3)).capitalize()
        content = ". ".join(" ".join(self._rng.sample(WORDS, 6)) for _ in range(3)) + "."
        return CreatePost(title=title, content=content, tags=tuple(self._rng.sample(TAGS, 2)))

    async def _all(
        self,
        commands: Sequence[Command],
        actors: Sequence[str | None],
        id_name: str,
        done: Callable[[], None],
    ) -> list[str]:
        """Dispatches every command, CONCURRENCY at a time; returns the ids they made, in order."""
        turns = asyncio.Semaphore(CONCURRENCY)

        async def one(command: Command, actor: str | None) -> str:
            async with turns:
                outcome = await self._send(command, actor)
            done()
            return outcome.ids[id_name]

        return await asyncio.gather(*(one(c, a) for c, a in zip(commands, actors, strict=True)))

    async def _send(self, command: Command, actor: str | None) -> Outcome:
        outcome = await self._bus.dispatch(command, Caller(actor, self._correlation))
        self._position = max(self._position, outcome.position)
        return outcome
