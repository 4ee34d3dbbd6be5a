"""The command bus: routes a command to its handler, once per command id, retrying lost races.

A command id is an idempotency key of its sender only. A signed-in caller's ids live
in that user's scope. An anonymous caller (registerUser) has no identity to scope
by, so its scope is its network address and the whole command: the same request
from the same place replays, anything else (another address, another payload) is
an independent command in a scope of its own. Nobody can read, reserve or detect
another caller's id, and no answer says "this id was used by someone else".
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import random
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from domain.commands import Command
from domain.errors import CommandIdReused, ConcurrencyError, DomainError
from domain.handlers import Handler, Handlers, Handling
from domain.ports import (
    CommandRecord,
    DuplicateCommand,
    EventStore,
    Idempotency,
    Outcome,
    StoredOutcome,
)
from domain.replay import Replays

MAX_RETRIES = 12
BACKOFF_BASE = 0.001
BACKOFF_CAP = 0.1


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who sends a command and under which ids. `command_id` is the client's idempotency key."""

    actor_id: str | None
    correlation_id: str
    command_id: str | None = None
    address: str | None = None  # the client's network address, scoping anonymous commands


class CommandObserver(Protocol):
    """Told of every dispatched command once it is settled: metrics and logs hang here."""

    def handled(self, record: CommandRecord, result: Outcome | Exception, seconds: float) -> None:
        """`result` is the outcome, or the error the command was refused or failed with."""
        ...


class CommandBus:
    def __init__(
        self,
        store: EventStore,
        handlers: Handlers,
        now: Callable[[], datetime],
        new_id: Callable[[], str],
        observers: Sequence[CommandObserver] = (),
    ) -> None:
        self._store = store
        self._handlers = handlers
        self._now = now
        self._new_id = new_id
        self._observers = tuple(observers)
        self._replays = Replays()
        self._turns: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._duplicates: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    async def dispatch(self, command: Command, caller: Caller) -> Outcome:
        """Handles the command and tells the observers how it went and how long it took."""
        record = self._record(command, caller)
        started = time.perf_counter()
        try:
            outcome = await self._dispatch(command, caller, record)
        except Exception as error:
            self._tell(record, error, started)
            raise
        self._tell(record, outcome, started)
        return outcome

    def _tell(self, record: CommandRecord, result: Outcome | Exception, started: float) -> None:
        seconds = time.perf_counter() - started
        for observer in self._observers:
            observer.handled(record, result, seconds)

    async def _dispatch(self, command: Command, caller: Caller, record: CommandRecord) -> Outcome:
        """Handles the command, or returns the outcome recorded for its command id.

        Duplicates of one command id sent at the same moment all get the one stored
        outcome, however the race falls: in this process they take turns; across
        processes, a duplicate that is refused (the state already shows the other's
        effect, or the other's append beat it) looks for the other's record first.
        """
        if (idempotency := record.idempotency) is None:
            return await self._decide(command, record)
        key = (idempotency.scope, record.command_id)
        turn = self._duplicates.setdefault(key, asyncio.Lock())
        async with turn:
            if (stored := await self._store.outcome_of(*key)) is not None:
                return _replayed(stored, record.command_id, idempotency)
            try:
                return await self._decide(command, record)
            except (DomainError, DuplicateCommand):
                if (stored := await self._store.outcome_of(*key)) is not None:
                    return _replayed(stored, record.command_id, idempotency)
                raise

    async def _decide(self, command: Command, record: CommandRecord) -> Outcome:
        """Runs the handler. A command that names no expected version lost a race, not an
        argument, when it meets a ConcurrencyError: it is decided again on the fresh
        state, a bounded number of times, so concurrent likes on one post all land."""
        handler = self._handlers.for_command(command)
        retryable = getattr(command, "expected_version", None) is None
        queue: asyncio.Lock | None = None
        for attempt in range(MAX_RETRIES + 1):
            try:
                if queue is None:
                    return await self._handle(handler, command, record)
                async with queue:
                    return await self._handle(handler, command, record)
            except ConcurrencyError as conflict:
                self._replays.forget(conflict.stream_id)
                if not retryable or attempt == MAX_RETRIES:
                    raise
                # Contenders in this process now take turns on the stream; only races
                # with other processes still collide, and those back off.
                queue = self._turns.setdefault(conflict.stream_id, asyncio.Lock())
                await asyncio.sleep(backoff(attempt))
        raise AssertionError("unreachable")

    async def _handle(
        self, handler: Handler[Command], command: Command, record: CommandRecord
    ) -> Outcome:
        """Decides on the aggregates this process holds, unread from the log (Handling,
        trust_held). A refusal or a lost race may then be the held state's fault, not the
        command's: those streams are forgotten and the command decided once more, on
        what the log holds, before anything is answered."""
        trusting = self._handling(record, trust_held=True)
        try:
            return await handler(command, trusting)
        except (DomainError, ConcurrencyError):
            if not trusting.unverified:
                raise
            for stream_id in trusting.unverified:
                self._replays.forget(stream_id)
        return await handler(command, self._handling(record, trust_held=False))

    def _handling(self, record: CommandRecord, trust_held: bool) -> Handling:
        return Handling(self._store, self._now, self._new_id, record, self._replays, trust_held)

    def _record(self, command: Command, caller: Caller) -> CommandRecord:
        idempotency = None
        if caller.command_id is not None:
            digest = fingerprint(command, caller.actor_id)
            idempotency = Idempotency(scope(caller, digest), digest)
        return CommandRecord(
            command_id=caller.command_id or self._new_id(),
            command_type=type(command).__name__,
            actor_id=caller.actor_id,
            correlation_id=caller.correlation_id,
            idempotency=idempotency,
        )


def backoff(attempt: int) -> float:
    """Exponential backoff with full jitter: contenders that collided spread out quickly,
    so n of them on one stream need about log2(n) rounds, not n."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))


def fingerprint(command: Command, actor_id: str | None) -> str:
    """A digest of what was asked and by whom, to tell a replay from a reused command id."""
    # Fields one level deep, as dataclasses.asdict gave them (commands hold no dataclasses),
    # without its recursive copy, which took 3.3 of the fingerprint's 7.6 µs.
    fields = {field.name: getattr(command, field.name) for field in dataclasses.fields(command)}
    body = json.dumps([type(command).__name__, actor_id, fields], sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def scope(caller: Caller, digest: str) -> str:
    """Whose command ids these are: the user's, or for an anonymous caller, those of one
    address sending one exact command (its fingerprint `digest`)."""
    if caller.actor_id is not None:
        return f"user:{caller.actor_id}"
    where = hashlib.sha256(f"{caller.address}\n{digest}".encode()).hexdigest()
    return f"anonymous:{where}"


def _replayed(stored: StoredOutcome, command_id: str, idempotency: Idempotency) -> Outcome:
    if stored.fingerprint != idempotency.fingerprint:
        raise CommandIdReused(command_id)
    return stored.outcome
