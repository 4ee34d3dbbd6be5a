"""Readiness: can this process answer well right now? Each check says why not.

The database and Redis must answer (a Redis that may evict keys makes the answer
"degraded": infra/redis_policy.py says why); every projection must be within the lag
limit, and must not be stalled (work waiting, nothing applied for a while). With
REDIS_READ_URL the server that queries read must answer too, and, when it is a
replica, be linked to its primary: every query reads it, so while it is down or
cut off (its data growing stale, read-your-writes waits timing out) this process
answers nothing right, though the primary answers and the projections keep up. It
must also hold what the primary holds: a REDIS_READ_URL naming another Redis (or
another database of the same one) was taken without a word, and every query
answered from read models no projector writes.

The read models must be this process's log's (projections/projectors/log_binding.py):
once a server of another log has taken them over (this one was paused or cut off from
Redis meanwhile), nothing this process writes reaches them, and what it reads is the
other log's.

A database that refuses writes (a PostgreSQL standby left behind by a failover) makes the
answer "degraded" too, still 200: mutations answer UNAVAILABLE, and queries, which read
Redis only, answer as before. So does a latest commit of this process that failed in the
last COMMIT_FAILURE_SECONDS: a SQLite file on a full disk, or locked by another process,
answers every read and refuses every write, and nothing but a write shows it. And so does
a commit under way for over COMMIT_WAIT_SECONDS: a lock held elsewhere fails a commit only
at SQLite's busy timeout (10 s), and until then every mutation waited while /ready said
ready (an outside probe).

A projection whose checkpoint is past the log's head fails: the log went back (restored
from an older backup, or replaced) under read models built further, so every query may
answer with events the log does not have, and a read-your-writes wait for a new event,
whose position the checkpoint already passed, returns before it is applied. That is worse
than a lag over the limit, which fails too: a lagging read model is old but true. Lag is
floored at 0, so this is checked on its own: it read "lag 0", ready, for as long as the
projector's rebuild took to swap in (docs/operations.md, "A restored backup of the event
log").

Events waiting for a projection that no projector holds the lease of make the answer
"degraded", still 200, until the projection is stalled (INKWELL_READY_STALLED_AFTER), which
fails: with every projector stopped (SIGSTOP, kill -9) /ready said "ready" for 30 s while
the lag grew and `status` said "no projector" (an outside probe). Degraded, not failed: a
projector's restart takes a second or two, and every API process reads the same Redis.

Parked events make the answer "degraded", still 200: every API process reads the
same Redis, so failing readiness for one bad row would take every replica out of
the load balancer at once, while reads keep answering (a malformed read model is
skipped, other streams flow). The parked projection is named in `degraded` and its
check says what is parked; `/ready?strict` answers 503 instead, for gates that must
not pass while anything is parked (a deploy pipeline, say). Alert on
`inkwell_projection_parked_events > 0`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from observability.evictions import advice, evicted_in, evicting_policy, unaccounted_evictions
from observability.progress import Progress, ProgressReader
from projections.keyspace.keys import Keys

CHECK_TIMEOUT = 2.0
# How long a failed commit, with none since, makes the database check degraded.
COMMIT_FAILURE_SECONDS = 30.0
# How long a commit under way makes the database check degraded. A healthy one takes
# milliseconds; one waiting on a lock held elsewhere fails only at SQLite's busy timeout.
COMMIT_WAIT_SECONDS = 2.0
REFUSES_WRITES = (
    "the database refuses writes (transaction_read_only is on: a standby, or "
    "default_transaction_read_only): mutations answer UNAVAILABLE"
)


class Head(Protocol):
    async def head_position(self) -> int: ...

    async def refuses_writes(self) -> bool: ...

    async def identity(self) -> str: ...


class Commits(Protocol):
    def recent_commit_failure(self, within: float) -> str | None: ...

    def waiting_commit(self, longer_than: float) -> float | None: ...


@dataclass(frozen=True)
class Limits:
    max_lag: int  # events
    stalled_after: float  # seconds


@dataclass
class Verdict:
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [name for name, check in self.checks.items() if not check["ok"]]

    @property
    def degraded(self) -> list[str]:
        return [name for name, check in self.checks.items() if check.get("degraded")]

    @property
    def ready(self) -> bool:
        return not self.failed

    def body(self) -> dict[str, Any]:
        status = "not ready" if self.failed else "degraded" if self.degraded else "ready"
        return {
            "status": status,
            "failed": self.failed,
            "degraded": self.degraded,
            "checks": self.checks,
        }


class ReplicaCutOff(Exception):
    """The replica answers, but from data its primary no longer sends it."""


class NotFedByThePrimary(Exception):
    """The server queries read answers, but not with what REDIS_URL's server holds."""


# How long a linked replica may take to show the primary's log identity before the
# check says it is not the primary's: replication runs in milliseconds, and the
# identity changes only when the read models are first bound, or bound again after
# Redis lost them.
REPLICATION_GRACE = 0.25


class Readiness:
    def __init__(
        self,
        redis: Redis,
        log: Head,
        keys: Keys,
        progress: ProgressReader,
        limits: Limits,
        reads: Redis | None = None,
        commits: Commits | None = None,
    ) -> None:
        """`redis`: the primary; `reads`: the server queries read, when it is another;
        `commits`: this process's writer, when it has one."""
        self._redis = redis
        self._log = log
        self._commits = commits
        self._keys = keys
        self._progress = progress
        self._limits = limits
        self._reads = reads

    async def check(self) -> Verdict:
        verdict = Verdict()
        verdict.checks["database"] = await _answers(self._log.head_position())
        if verdict.ready:
            verdict.checks["database"] = await self._writable()
        verdict.checks["redis"] = await self._redis_keeps_keys()
        if verdict.ready:
            verdict.checks["log"] = await self._bound()
        if self._reads is not None:
            # Compared with the primary only when it answered: else "redis" says why.
            compare = bool(verdict.checks["redis"].get("ok"))
            verdict.checks["redis:reads"] = await _answers(
                self._reads_the_primary(self._reads, compare)
            )
        if verdict.ready:
            try:
                progress = await asyncio.wait_for(self._progress.read(), CHECK_TIMEOUT)
            except Exception as error:
                verdict.checks["projections"] = _failure(error)
            else:
                for p in progress:
                    verdict.checks[f"projection:{p.name}"] = self._judge(p)
        return verdict

    async def _reads_the_primary(self, reads: Redis, compare: bool) -> None:
        await _linked(reads)
        if compare:
            await fed_by_the_primary(reads, self._redis, self._keys.log())

    async def _writable(self) -> dict[str, Any]:
        try:
            refused = await asyncio.wait_for(self._log.refuses_writes(), CHECK_TIMEOUT)
        except Exception as error:
            return _failure(error)
        if refused:
            return {"ok": True, "degraded": True, "reason": REFUSES_WRITES}
        failure = (
            self._commits.recent_commit_failure(COMMIT_FAILURE_SECONDS)
            if self._commits is not None
            else None
        )
        if failure is not None:
            reason = f"the latest commit failed ({failure}): mutations answer UNAVAILABLE"
            return {"ok": True, "degraded": True, "reason": reason}
        waited = (
            self._commits.waiting_commit(COMMIT_WAIT_SECONDS) if self._commits is not None else None
        )
        if waited is not None:
            reason = (
                f"a commit has waited {waited:.0f} s (the log locked by another process, or "
                "its disk or server stalled): mutations wait, then answer UNAVAILABLE"
            )
            return {"ok": True, "degraded": True, "reason": reason}
        return {"ok": True}

    async def _redis_keeps_keys(self) -> dict[str, Any]:
        """Redis answers, may not evict keys, and has evicted none that a rebuild or verify
        has not accounted for since. Startup refuses (or warns about) an evicting policy,
        but one set later went unseen: Redis evicted 6,159 read-model keys, queries missed
        posts, and /ready said ready; and once the policy was set back, again."""
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                info = await self._redis.info("memory", "stats")
                evicted = await unaccounted_evictions(self._redis, self._keys, evicted_in(info))
        except ResponseError:  # INFO refused (an ACL, a managed Redis): PING says enough
            return await _answers(self._redis.ping())
        except Exception as error:
            return _failure(error)
        if policy := evicting_policy(info):
            reason = policy
        elif evicted:
            reason = advice(evicted)
        else:
            return {"ok": True}
        return {"ok": True, "degraded": True, "reason": reason}

    async def _bound(self) -> dict[str, Any]:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                bound = str(await self._redis.get(self._keys.log()) or "")
                identity = await self._log.identity()
        except Exception as error:
            return _failure(error)
        if bound not in ("", identity):  # none: Redis lost it, the projector records it
            return {
                "ok": False,
                "reason": f"the read models under prefix {self._keys.prefix!r} belong to event "
                f"log {bound}, not to this process's ({identity}): its writes do not reach them",
            }
        return {"ok": True}

    def _judge(self, p: Progress) -> dict[str, Any]:
        check: dict[str, Any] = {
            "ok": True,
            "position": p.position,
            "head": p.head,
            "lag": p.lag,
            "lagSeconds": round(p.lag_seconds, 3),
            "parked": p.parked,
            "parkedStreams": p.parked_streams,
        }
        if p.ahead:
            check.update(ok=False, aheadOfLog=p.ahead, reason=ahead_of_the_log(p))
        elif p.went_back:
            check.update(ok=False, reason=not_the_logs(p))
        elif p.lag > self._limits.max_lag:
            check.update(ok=False, reason=f"lag {p.lag} events, above {self._limits.max_lag}")
        elif p.stalled(self._limits.stalled_after):
            check.update(ok=False, reason=p.stalled_reason(self._limits.stalled_after))
        elif p.lag and not p.projector_runs:
            check.update(
                degraded=True,
                reason=f"{p.lag} events wait and no projector holds the projection's lease "
                "(`serve` runs one, or `inkwell project`)",
            )
        elif p.parked:
            check.update(
                degraded=True,
                reason=f"{p.parked} events parked in {p.parked_streams} streams; "
                "see the `parked list` command",
            )
        return check


def not_the_logs(p: Progress) -> str:
    """Why a projection whose checkpoint's event is no longer the log's is not ready."""
    return (
        f"the log has another event at its checkpoint {p.position} than the one its read "
        "models applied there (the log was restored from an older backup and written since): "
        "queries serve events the log does not have until the projector's rebuild from the "
        "log swaps in"
    )


def ahead_of_the_log(p: Progress) -> str:
    """Why a projection whose checkpoint is past the log's head is not ready."""
    return (
        f"its checkpoint {p.position} is past the log's head {p.head}: its read models hold "
        f"{p.ahead} events the log does not have (the log was restored from an older backup, "
        "or replaced), and queries serve them until the projector's rebuild from the log "
        "swaps in"
    )


async def _linked(reads: Redis) -> None:
    replication = await reads.info("replication")
    if replication.get("role") == "slave" and replication.get("master_link_status") != "up":
        raise ReplicaCutOff("its link to its primary is down: its data may be stale")


async def fed_by_the_primary(reads: Redis, primary: Redis, key: str) -> None:
    """The read server holds the primary's `key` (the log identity every serving process
    keeps there), at once or within REPLICATION_GRACE. Nothing to compare before one is
    bound: a new prefix's first moments."""
    expected = await primary.get(key)
    if expected is None or await reads.get(key) == expected:
        return
    await asyncio.sleep(REPLICATION_GRACE)
    if await reads.get(key) != expected:
        raise NotFedByThePrimary(
            "it does not hold what REDIS_URL's server holds (the read models' log identity "
            "is missing or another there): it is not a replica of REDIS_URL's server, or of "
            "that server's database, so every query reads read models no projector writes"
        )


async def _answers(probe: Awaitable[Any]) -> dict[str, Any]:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT)
    except Exception as error:
        return _failure(error)
    return {"ok": True}


def _failure(error: Exception) -> dict[str, Any]:
    if isinstance(error, TimeoutError):
        return {"ok": False, "reason": f"no answer within {CHECK_TIMEOUT:g}s"}
    return {"ok": False, "reason": f"{type(error).__name__}: {error}"}
