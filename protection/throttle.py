"""Rate limits counted in Redis with the `limits` library, so every API process shares
each count. A Redis fault lets requests through (and is logged): the limiter must never
turn a Redis blip into an outage.

Nor a frozen Redis into a wait per limit: each call waits for its reply deadline (1 s,
wiring/redis_clients.py), and a request meets several limits (its address, its token,
writes, query cost, a new document's charge). With Redis stopped (SIGSTOP), a query
waited 3 s in them before its own read did, and a persisted query 12 s in all (an
outside probe). After a reply past its deadline the counts are not asked for
SKIP_AFTER_FAILURE_SECONDS: one request a moment waits out the deadline, the others pass
at once, as they would. Not after a wait for one of the pool's connections that timed
out: that is this process flooded with checks (a subscribe burst from hundreds of
addresses), not Redis gone, and skipping would hand the flood 5 s without limits.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import ConnectionPool
from redis.exceptions import TimeoutError as RedisTimeout
from starlette.types import Scope

from protection.config import RateLimits
from protection.guessers import Guessers

log = logging.getLogger(__name__)

SKIP_AFTER_FAILURE_SECONDS = 5.0


class RateLimited(Exception):
    """Too many requests of one kind from one client; `retry_after` in whole seconds."""

    def __init__(self, kind: str, retry_after: int) -> None:
        super().__init__(f"Too many {kind}: try again in {retry_after} s.")
        self.kind = kind
        self.retry_after = retry_after


@dataclass(frozen=True)
class Rule:
    kind: str  # says what was counted, in the error: "requests", "registrations", ...
    items: tuple[RateLimitItem, ...]

    @property
    def most(self) -> int:
        """The largest cost one hit can ever be allowed: its smallest rate's amount."""
        return min(item.amount for item in self.items)


# What a hit charged: each rate's item, with the rule's kind and the identity counted.
Charged = list[tuple[RateLimitItem, str, str]]


class Throttle:
    """Counts hits per (rule, identity); raises RateLimited past a rule's rate."""

    def __init__(self, pool: ConnectionPool, key_prefix: str, rates: RateLimits) -> None:
        """`key_prefix` starts the name of every counter (Keys.rate_limits)."""
        # The storage gets its own small pool: a flood of refused requests waits for it,
        # never for the connections queries and projectors use.
        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            key_prefix=key_prefix,
            connection_pool=pool,  # type: ignore[arg-type]  # passed on to redis-py
        )
        self._storage = storage
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._skip_until = 0.0  # monotonic: the counts failed, and are not asked till then
        self._guessers = Guessers()
        self.requests = _rule("requests", rates.requests)
        self.per_token = _rule("requests for this token", rates.per_token)
        self.writes = _rule("writes", rates.writes)
        self.register = _rule("registrations", rates.register)
        self.bad_tokens = _rule("requests with a bad token", rates.bad_tokens)
        self.subscribes = _rule("subscriptions", rates.subscribes)
        self.search_words = _rule("words given to the search index", rates.search_words)
        # One rate, two counts: per user and per client address.
        self.text_bytes = _rule("bytes of text stored", rates.text_bytes)
        self.text_bytes_per_address = _rule("bytes of text stored from here", rates.text_bytes)
        self.profile_updates = _rule("profile updates", rates.profile_updates)
        # One rate, two counts: per client address and per user.
        self.query_cost = _rule("query cost", rates.query_cost)
        self.query_cost_per_token = _rule("query cost for this token", rates.query_cost)

    async def hit(self, rule: Rule, identity: str, cost: int = 1) -> None:
        """`cost`: how many of the rule's units this takes (mutations in one request)."""
        await self.hit_all([(rule, identity)], cost)

    async def hit_all(self, counts: Sequence[tuple[Rule, str]], cost: int = 1) -> Charged:
        """Charges `cost` to each (rule, identity), and to each rate of a rule, or to none:
        past one, what was charged before it is given back. Left charged, a signed-in
        client refused by its user's count was refused again by its address's, which that
        refusal had charged: told 15 s, it waited 30 (an outside probe). Returns what it
        charged, for `give_back`: nothing while the storage fails (fail open)."""
        for rule, identity in counts:
            if rule is self.bad_tokens:  # before any wait: protection/guessers.py
                tightest = min(rule.items, key=lambda item: item.amount / item.get_expiry())
                self._guessers.failed(identity, tightest.amount, tightest.get_expiry())
        charged: Charged = []
        if time.monotonic() < self._skip_until:
            return charged
        for rule, identity in counts:
            for item in rule.items:
                try:
                    if await self._limiter.hit(item, rule.kind, identity, cost=cost):
                        charged.append((item, rule.kind, identity))
                        continue
                    window = await self._storage.get_sliding_window(
                        item.key_for(rule.kind, identity), item.get_expiry()
                    )
                    await self._give_back(charged, cost)
                except Exception as error:  # fail open, see the module docstring
                    skip = SKIP_AFTER_FAILURE_SECONDS if isinstance(error, RedisTimeout) else 0.0
                    self._skip_until = time.monotonic() + skip
                    # One line, not a traceback: it repeats while Redis is down.
                    log.warning(
                        "rate limit storage failed (%r); letting requests through "
                        "uncounted for %.0f s",
                        error,
                        skip,
                    )
                    return charged
                wait = max(
                    1, math.ceil(seconds_until_room(item.amount, item.get_expiry(), cost, *window))
                )
                if rule is self.bad_tokens:
                    self._guessers.remember(identity, wait)
                raise RateLimited(rule.kind, wait)
        return charged

    def guessing(self, address: str) -> RateLimited | None:
        """The refusal of an address past its limit on bad tokens, while it lasts: its
        tokens are refused unchecked, valid ones too (protection/guessers.py)."""
        left = self._guessers.seconds_left(address)
        return None if left is None else RateLimited(self.bad_tokens.kind, left)

    async def give_back(self, charged: Charged, cost: int) -> None:
        """Takes back what `hit_all` charged (`charged`, of `cost` each), for a write
        refused after it was charged, which stored nothing. Fails open, as a charge does."""
        try:
            await self._give_back(charged, cost)
        except Exception as error:  # the counts stay a little high until their window ends
            log.warning("rate limit storage failed (%r); a charge was not given back", error)

    async def _give_back(self, charged: Charged, cost: int) -> None:
        """Takes `cost` off each count's current window: the acquire of `limits`' storage
        with a negative amount, which it adds as any other (a window that rolled over
        meanwhile is given it, a little early). Never below nothing: a Redis restarted
        empty since the charge, or a window that rolled over, holds less than was charged,
        and a count taken below zero was budget given away (a re-check probe: -1.6 MB of
        text bytes after a restart)."""
        for item, kind, identity in charged:
            key = item.key_for(kind, identity)
            _, _, current, _ = await self._storage.get_sliding_window(key, item.get_expiry())
            if (back := min(cost, int(current))) > 0:
                await self._storage.acquire_sliding_window_entry(
                    key, item.amount, item.get_expiry(), -back
                )


def seconds_until_room(
    amount: int,
    expiry: int,
    cost: int,
    previous: int,
    previous_ttl: float,
    current: int,
    current_ttl: float,
) -> float:
    """How long until a hit of `cost` fits a sliding window counter of `amount` per
    `expiry` seconds, from its two windows as `limits` stores them (counts, and their
    keys' TTLs in seconds, read after the shift its read makes).

    `limits` lets a hit in while floor(previous * previous_ttl / expiry) + current + cost
    is at most `amount`: the previous window's count weighs less as its TTL runs out,
    which is exactly when the current window ends (its TTL is then `expiry`, and it
    becomes the previous window). Its own reset time is when one unit frees: with costs
    of 20,402 against 100,000 a minute, a client told "1 s" was refused 15 times in a
    row, 15 s in all (an outside probe)."""
    room = amount - cost  # what the weighted count may be for the hit to fit
    if current <= room:
        if previous == 0:
            return 0.0
        # floor(previous * ttl / expiry) <= room - current once ttl drops below this
        return max(0.0, previous_ttl - expiry * (room - current + 1) / previous)
    # Not until the current window ends and its count, then the previous, weighs less.
    ends = current_ttl - expiry
    if current <= 0:  # `room` below nothing: a rate of 0, which start-up refuses
        return ends + expiry
    return ends + max(0.0, expiry * (1 - (room + 1) / current))


def throttle_in(scope: Scope) -> Throttle | None:
    """The app's rate limiter (`app.state.throttle`), None when rate limits are off."""
    return getattr(scope["app"].state, "throttle", None) if "app" in scope else None


def throttle_of(ctx: object) -> Throttle | None:
    """The request context's throttle (its services'); None when rate limits are off."""
    throttle: Throttle | None = getattr(getattr(ctx, "services", None), "throttle", None)
    return throttle


def token_identity(token: str) -> str:
    """A token is counted under its digest: the key names no secret."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _rule(kind: str, rates: str) -> Rule:
    return Rule(kind, tuple(parse_many(rates)))
