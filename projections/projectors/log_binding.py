"""Which event log the read models under a prefix are built from, and who may take them.

Redis keeps the identity of that log (`Keys.log`). Without it, a server started on
another log with the same REDIS_URL and prefix (another database, `serve` run in
another directory, staging pointed at production's Redis) went on from the
checkpoints it found there: its events were applied on top of the other log's read
models, or, when its log was shorter, those read models were rebuilt from it and
replaced while their own server ran.

Every process that serves or projects binds itself at start (`bind`):
- no identity yet (a new prefix, Redis flushed, read models from before identities):
  it records its own;
- its own: nothing to do;
- another log's, while a process of that log runs: one holds a projection's lease or
  rebuild lock (a holder names its log, projections/projectors/lease.py), or one serves
  or projects it (`Presence`: an `api` node of that log answers from these read models
  while its projectors restart): refused, `AnotherLogRuns`;
- another log's, with none of its processes running: taken over. The read models go
  (their spaces are deleted after the usual grace period), and the projectors build
  them again from this log.

A runner checks the binding again before each catch-up (ProjectionRunner), so a
process that was paused or cut off while another log took its read models over
stops projecting into them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from projections.keyspace.keys import Keys
from projections.projectors.lease import holder_id

log = logging.getLogger(__name__)

# KEYS[1] the log's identity, KEYS[2] the head, KEYS[3] the log's processes (Presence),
# KEYS[4] the commit times (Keys.commit_times); then per projection, ARGV[4] keys: its
# lease and its rebuild lock (held by processes that name their log), its active space's
# pointer and the other keys of positions or content of the log (_bound_to_the_log), and
# its space registry. ARGV[1] this log's identity, ARGV[2] now (the registry's score),
# ARGV[3] 1 when a bound log of another identity may be taken over, ARGV[4] the keys per
# projection (a fixed count here had to change with every key bound to the log).
# Returns {outcome, the other log's identity or ''}.
_BIND = """
local now = redis.call('TIME')
local present = now[1] * 1000 + math.floor(now[2] / 1000)
for _, holder in ipairs(redis.call('ZRANGE', KEYS[3], present, '+inf', 'BYSCORE')) do
  local running = string.match(holder, '^(%x+)@')
  if running and running ~= ARGV[1] then return {'running', running} end
end
local per = tonumber(ARGV[4])
for base = 5, #KEYS, per do
  for _, key in ipairs({KEYS[base], KEYS[base + 1]}) do
    local holder = redis.call('GET', key)
    local running = holder and string.match(holder, '^(%x+)@')
    if running and running ~= ARGV[1] then return {'running', running} end
  end
end
local bound = redis.call('GET', KEYS[1])
if not bound then
  redis.call('SET', KEYS[1], ARGV[1])
  return {'new', ''}
end
if bound == ARGV[1] then return {'bound', ''} end
if ARGV[3] ~= '1' then return {'other', bound} end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2], KEYS[4])
for base = 5, #KEYS, per do
  local active = redis.call('GET', KEYS[base + 2])
  if active then redis.call('ZADD', KEYS[base + per - 1], ARGV[2], active) end
  for i = base + 2, base + per - 2 do redis.call('DEL', KEYS[i]) end
end
return {'taken', bound}
"""


class AnotherLogRuns(Exception):
    """The read models belong to another event log, and a process of it runs now."""


class BoundToAnotherLog(Exception):
    """The read models belong to another event log (none of its processes runs)."""


@dataclass(frozen=True)
class LogBinding:
    redis: Redis
    keys: Keys
    projections: Sequence[str]
    identity: str

    async def bind(self, *, take_over: bool = True) -> None:
        """Binds the read models to this log, as the module says; raises AnotherLogRuns, or
        BoundToAnotherLog when `take_over` is off and they belong to another log."""
        keys = [self.keys.log(), self.keys.head(), self.keys.log_processes()]
        keys.append(self.keys.commit_times())
        per_projection = 0
        for name in self.projections:
            own = [self.keys.lease(name), self.keys.rebuilding(name)]
            own += [*self._bound_to_the_log(name), self.keys.space_registry(name)]
            keys += own
            per_projection = len(own)  # the same for each
        args: list[str | float] = [self.identity, time.time(), int(take_over), per_projection]
        outcome, other = await self.redis.register_script(_BIND)(keys, args)
        where = f"the read models under prefix {self.keys.prefix!r}"
        if outcome == "running":
            raise AnotherLogRuns(
                f"{where} belong to event log {other}, and a process of that log runs now; "
                f"this process's log is {self.identity}. Point DATABASE_URL at that log, or "
                "give this one its own INKWELL_PREFIX."
            )
        if outcome == "other":
            raise BoundToAnotherLog(
                f"{where} belong to event log {other}, not to this one ({self.identity}): "
                "start this log's server to rebuild them from it, or point DATABASE_URL at "
                "that log."
            )
        if outcome == "taken":
            log.warning(
                "%s belonged to event log %s, of which no process runs: this log (%s) "
                "takes them over, and they are built again from it",
                where,
                other,
                self.identity,
            )

    def _bound_to_the_log(self, projection: str) -> list[str]:
        """A projection's keys that name positions or content of the log they came from,
        its active space's pointer first."""
        keys = self.keys
        return [
            keys.namespace(projection),
            keys.checkpoint(projection),
            keys.checkpoint_event(projection),
            keys.unconfirmed(projection),
            keys.parked(projection),
            keys.parked_events(projection),
            keys.parked_streams(projection),
        ]


# Adds (or renews) a member scored by when its presence ends: Redis's clock now plus
# ARGV[2] milliseconds, so the processes' own clocks need not agree; the set ends with
# the last presence in it (processes with other INKWELL_LEASE_SECONDS last longer). A
# log identity Redis lost (KEYS[2]: flushed, restarted empty) is this log's again.
_PRESENT = """
local now = redis.call('TIME')
now = now[1] * 1000 + math.floor(now[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ARGV[2], ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
redis.call('SET', KEYS[2], ARGV[3], 'NX')
"""


RENEWALS = 9  # a presence's renewals per term


class Presence:
    """This process among its log's processes (Keys.log_processes) while it runs, so
    that a process of another log is refused the read models meanwhile, projectors or
    none. Without it only leases and rebuild locks counted: a stray process of another
    log, started while this log's projectors restarted, took the read models over from
    two `api` nodes that still served them (an outside probe): their queries answered
    empty lists, and the projectors could not start again until it was found and
    stopped. A process that dies leaves its presence for `seconds`. It is renewed nine
    times a term, and a renewal binds the read models to this log again when Redis has
    lost their binding (flushed, restarted empty): until then a process of another log
    could take them over from a running `api` node (a re-check probe), which is now
    possible for at most a ninth of the term after Redis loses everything.

    Kept as best it can be: a Redis that refuses writes (out of memory, a replica) or
    is out of reach is met, and reported, by the process's other work; the presence is
    tried again three times a term."""

    def __init__(self, redis: Redis, keys: Keys, identity: str, seconds: float) -> None:
        self._key = keys.log_processes()
        self._log = keys.log()
        self._identity = identity
        self._member = holder_id(identity, "serving")
        self._seconds = seconds
        self._present = redis.register_script(_PRESENT)
        self._redis = redis

    async def enter(self) -> None:
        """Adds or renews the presence; a Redis that cannot take it is left to the next."""
        try:
            milliseconds = int(self._seconds * 1000)
            await self._present(
                [self._key, self._log], [self._member, milliseconds, self._identity]
            )
        except (RedisError, OSError) as error:
            log.debug("could not record this process's presence: %r", error)

    async def run(self) -> None:
        """Renews the presence nine times a term."""
        while True:
            await asyncio.sleep(self._seconds / RENEWALS)
            await self.enter()

    async def leave(self) -> None:
        try:
            await self._redis.zrem(self._key, self._member)
        except (RedisError, OSError) as error:  # stopping with Redis gone: it lapses
            log.debug("could not end this process's presence: %r", error)
