"""The command bus and its handlers over the in-memory store (which passes the same contract
tests as the SQL one, tests/eventstore/test_store.py): idempotency by command id, retries of
lost races."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from domain.bus import Caller, CommandBus, fingerprint
from domain.commands import (
    Command,
    CreatePost,
    PublishPost,
    RegisterUser,
    UpdatePost,
    UpdateProfile,
)
from domain.errors import CommandIdReused, ConcurrencyError, Unauthenticated
from domain.handlers import HANDLERS
from eventstore.memory import InMemoryEventStore


@pytest.fixture
def store() -> InMemoryEventStore:
    return InMemoryEventStore()


@pytest.fixture
def bus(store: InMemoryEventStore) -> CommandBus:
    return CommandBus(store, HANDLERS, lambda: datetime.now(UTC), lambda: str(uuid.uuid4()))


async def register(bus: CommandBus) -> str:
    outcome = await bus.dispatch(RegisterUser("Ann"), Caller(None, "corr"))
    return outcome.ids["user_id"]


async def test_a_replayed_command_id_returns_the_original_outcome_and_appends_nothing(
    bus: CommandBus, store: InMemoryEventStore
) -> None:
    author = await register(bus)
    caller = Caller(author, "corr", command_id="create-1")
    first = await bus.dispatch(CreatePost("T", "C"), caller)
    head = await store.head_position()
    again = await bus.dispatch(CreatePost("T", "C"), caller)
    assert again == first
    assert await store.head_position() == head


async def test_a_command_sent_without_an_id_has_one_made_for_it_and_no_outcome_recorded(
    bus: CommandBus, store: InMemoryEventStore
) -> None:
    author = await register(bus)
    await bus.dispatch(CreatePost("T", "C"), Caller(author, "corr"))
    created = (await store.read_all(after=0, limit=10))[-1]
    assert created.command_id  # the events name the command by the id made for it
    assert await store.outcome_of(f"user:{author}", created.command_id) is None
    named = Caller(author, "corr", command_id="create-named")
    outcome = await bus.dispatch(CreatePost("T", "C"), named)
    stored = await store.outcome_of(f"user:{author}", "create-named")
    assert stored is not None and stored.outcome == outcome


async def test_concurrent_replays_of_one_command_id_append_once(
    bus: CommandBus, store: InMemoryEventStore
) -> None:
    author = await register(bus)
    caller = Caller(author, "corr", command_id="create-2")
    outcomes = await asyncio.gather(
        *[bus.dispatch(CreatePost("T", "C"), caller) for _ in range(10)]
    )
    assert len({outcome.position for outcome in outcomes}) == 1
    assert await store.head_position() == 2


async def test_a_command_id_reused_for_another_command_is_refused(bus: CommandBus) -> None:
    author = await register(bus)
    await bus.dispatch(CreatePost("T", "C"), Caller(author, "corr", command_id="same"))
    with pytest.raises(CommandIdReused):
        await bus.dispatch(CreatePost("Other", "C"), Caller(author, "corr", command_id="same"))


async def test_commands_without_expected_version_retry_lost_races(
    bus: CommandBus, store: InMemoryEventStore
) -> None:
    author = await register(bus)
    await asyncio.gather(
        *[bus.dispatch(UpdateProfile(bio=f"bio {i}"), Caller(author, "corr")) for i in range(40)]
    )
    assert (await store.load(f"user-{author}"))[1] == 41


async def test_a_command_with_an_expected_version_is_not_retried(bus: CommandBus) -> None:
    author = await register(bus)
    post = (await bus.dispatch(CreatePost("T", "C"), Caller(author, "c"))).ids["post_id"]
    with pytest.raises(ConcurrencyError) as conflict:
        await bus.dispatch(PublishPost(post, expected_version=7), Caller(author, "c"))
    assert conflict.value.current_version == 1


async def test_a_token_for_a_user_missing_from_the_log_is_unauthenticated(bus: CommandBus) -> None:
    with pytest.raises(Unauthenticated):
        await bus.dispatch(CreatePost("T", "C"), Caller("ghost", "corr"))


@pytest.mark.parametrize(
    ("command", "actor", "digest"),
    [
        (
            UpdatePost("p-1", 3, title="Édit", tags=("a", "b")),
            "u1",
            "012d13b60836df6cf6219f1f9efb0b410ce2ccd359d19a5809b585e2cd891cec",
        ),
        (
            CreatePost("T", "C", ("x",)),
            None,
            "4104ea5d298c328c8b9cec64960170467d8bfcb8ae267078356c85ad1b506530",
        ),
        (
            RegisterUser("Ann", None, "bio"),
            None,
            "1bbb2fcc1e228c6eccb28513ae410312dae58b9c2e737d8fcec654f714e462c9",
        ),
    ],
)
def test_a_commands_fingerprint_stays_what_the_log_recorded(
    command: Command, actor: str | None, digest: str
) -> None:
    """Fingerprints are stored with each command: a retry after an upgrade must compute
    the same one, or its command id would count as reused."""
    assert fingerprint(command, actor) == digest
