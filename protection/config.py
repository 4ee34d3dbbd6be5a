"""The protective limits an operator can set, read from the environment once."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields

from limits import parse_many

from protection.trusted_peers import check_trusted_proxies


@dataclass(frozen=True)
class RateLimits:
    """Rates in the `limits` library's notation ("10/minute;100/day": all must hold)."""

    enabled: bool = True
    requests: str = "1200/minute"  # HTTP requests per client address
    per_token: str = "1200/minute"  # HTTP requests per bearer token (per user)
    writes: str = "120/minute"  # mutations per user, or per address when anonymous
    register: str = "10/minute;100/day"  # registerUser per address: anonymous, so strictest
    bad_tokens: str = "30/minute"  # requests whose bearer token does not verify, per address
    subscribes: str = "60/minute"  # WebSocket subscribe messages per address
    # Distinct words a user's createPost and updatePost give the search index (one sorted
    # set per word, schema/write_costs.py). A long article of natural text has a few
    # thousand.
    search_words: str = "20000/hour"
    # Bytes (UTF-8) of the title, content and tags of createPost and updatePost, and of the
    # body of addComment, per user and per client address: what the log and Redis keep of
    # them (schema/write_costs.py). 25 posts of the longest content an hour.
    text_bytes: str = "10000000/hour"
    # updateProfile per user: each one rewrites the author's name into every post and
    # comment of theirs, in one Redis script (projections/projectors/posts.py).
    profile_updates: str = "20/hour"
    # What the queries and mutations of one client address, and of one user, may cost
    # together (schema/limits/cost.py; protection/query_cost_rate.py): about five a
    # minute of the costliest query the cost limit allows (20,302, 0.2-0.4 s of the event
    # loop each), where the live page spends 28,000 a minute while others write and a
    # page of 20 posts with their content costs 5,205. Each rate's amount must hold the
    # largest query (INKWELL_MAX_QUERY_COST), or that query could never run.
    query_cost: str = "100000/minute"

    @staticmethod
    def from_env(env: Mapping[str, str] = os.environ) -> RateLimits:
        defaults = RateLimits()

        def get(name: str, default: str) -> str:
            return env.get(f"INKWELL_RATE_LIMIT_{name}") or default

        return RateLimits(
            enabled=_switch(env, "INKWELL_RATE_LIMITS", "on") == "on",
            requests=get("REQUESTS", defaults.requests),
            per_token=get("PER_TOKEN", defaults.per_token),
            writes=get("WRITES", defaults.writes),
            register=get("REGISTER", defaults.register),
            bad_tokens=get("BAD_TOKENS", defaults.bad_tokens),
            subscribes=get("SUBSCRIBES", defaults.subscribes),
            search_words=get("SEARCH_WORDS", defaults.search_words),
            text_bytes=get("TEXT_BYTES", defaults.text_bytes),
            profile_updates=get("PROFILE_UPDATES", defaults.profile_updates),
            query_cost=get("QUERY_COST", defaults.query_cost),
        )


@dataclass(frozen=True)
class EdgeLimits:
    max_body_bytes: int = 1024 * 1024
    # As large as an HTTP body unless set on its own: a mutation that HTTP takes must go
    # over a socket too (a post of 66,000 "é" is 132 KB of JSON). A socket closed with
    # 1009 is one graphql-ws never reconnects, whatever its retry settings, and its
    # subscriptions ended for good under the former 128 KB (an outside probe).
    max_ws_message_bytes: int = max_body_bytes
    # The request line and headers (wiring/http_protocol.py). A GET that carries its
    # whole document in the URL fits a document of a few thousand tokens; larger ones
    # go in a POST body.
    max_header_bytes: int = 64 * 1024
    header_timeout_seconds: int = 10  # from a request's first byte to its last header
    body_timeout_seconds: int = 30  # from the last header to the body's end (1 MB: 35 KB/s)
    max_ws_per_address: int = 50  # open WebSocket connections per address, per process
    # Open HTTP connections per address, per process (protection/connection_cap.py): a
    # browser opens 6 per origin, a load balancer's health checks 1.
    max_connections_per_address: int = 256
    # HTTP requests in progress per address, per process (protection/requests_at_once.py):
    # past it, the address's next request waits for one of its own. A browser sends at
    # most 6 at once to an origin over HTTP/1.1; 32 leaves room for a NAT of several.
    max_requests_at_once_per_address: int = 32
    max_query_cost: int = 25_000  # see schema/limits/cost.py
    # A subscription's cost is paid again on every change it follows (schema/limits/cost.py
    # CostLimit says what real ones cost), and what the live subscriptions of one address
    # cost together is bounded too, per process (protection/subscription_budget.py): the
    # live page holds 760, so an address may hold a dozen of its tabs, or four
    # subscriptions at the limit.
    max_subscription_cost: int = 2_500
    max_live_cost_per_address: int = 10_000
    # An HTTP answer's body. A page of 100 posts of 100,000 four-byte characters each is
    # 40 MB, within the cost limit, and is held in memory until the client reads it all:
    # ten connections that asked for it and read nothing held 700 MB. A page of typical
    # posts is well under 1 MB.
    max_response_bytes: int = 16 * 1024 * 1024
    # What the process holds written and unsent for one address, over all its HTTP
    # connections and WebSockets, per process (protection/unsent_budget.py): four answers
    # at the limit. A client reading 10 MB pages on five connections and a socket at once
    # was refused under 16 MB, never under 24 or 32 MB, on loopback; over a slow link an
    # answer stays unsent longer.
    max_unsent_bytes_per_address: int = 64 * 1024 * 1024
    # Proxies whose X-Forwarded-For names the client; without them every address is the
    # socket's peer, so no client can pick the address it is limited under.
    trusted_proxies: str | None = None
    # WebSocket permessage-deflate. Off unless asked for: the server compresses every
    # frame for every subscriber on its own (the same update 5,000 times), which was 17%
    # of the server's CPU in a 5,000-subscriber round (bench/subscriptions) for frames of
    # a few hundred bytes, and each compressing connection keeps a zlib state.
    ws_compression: bool = False

    @staticmethod
    def from_env(env: Mapping[str, str] = os.environ) -> EdgeLimits:
        defaults = EdgeLimits()

        def number(name: str, default: int) -> int:
            raw = env.get(name)
            try:
                value = int(raw or default)
            except ValueError:
                raise ValueError(f"{name} must be a whole number, not {raw!r}") from None
            if value <= 0:
                raise ValueError(f"{name} must be positive")
            return value

        body = number("INKWELL_MAX_BODY_BYTES", defaults.max_body_bytes)
        return EdgeLimits(
            max_body_bytes=body,
            max_ws_message_bytes=number("INKWELL_MAX_WS_MESSAGE_BYTES", body),
            max_header_bytes=number("INKWELL_MAX_HEADER_BYTES", defaults.max_header_bytes),
            header_timeout_seconds=number(
                "INKWELL_HEADER_TIMEOUT_SECONDS", defaults.header_timeout_seconds
            ),
            body_timeout_seconds=number(
                "INKWELL_BODY_TIMEOUT_SECONDS", defaults.body_timeout_seconds
            ),
            max_ws_per_address=number("INKWELL_MAX_WS_PER_ADDRESS", defaults.max_ws_per_address),
            max_connections_per_address=number(
                "INKWELL_MAX_CONNECTIONS_PER_ADDRESS", defaults.max_connections_per_address
            ),
            max_requests_at_once_per_address=number(
                "INKWELL_MAX_REQUESTS_AT_ONCE_PER_ADDRESS",
                defaults.max_requests_at_once_per_address,
            ),
            max_query_cost=number("INKWELL_MAX_QUERY_COST", defaults.max_query_cost),
            max_subscription_cost=number(
                "INKWELL_MAX_SUBSCRIPTION_COST", defaults.max_subscription_cost
            ),
            max_live_cost_per_address=number(
                "INKWELL_MAX_LIVE_COST_PER_ADDRESS", defaults.max_live_cost_per_address
            ),
            max_response_bytes=number("INKWELL_MAX_RESPONSE_BYTES", defaults.max_response_bytes),
            max_unsent_bytes_per_address=number(
                "INKWELL_MAX_UNSENT_BYTES_PER_ADDRESS", defaults.max_unsent_bytes_per_address
            ),
            trusted_proxies=check_trusted_proxies(env.get("INKWELL_TRUSTED_PROXIES") or None),
            ws_compression=_switch(env, "INKWELL_WS_COMPRESSION", "off") == "on",
        )


def check_rates(rates: RateLimits, edge: EdgeLimits) -> None:
    """Refuses (ValueError, naming the variable) a rate that cannot be read or allows
    nothing, or a query-cost
    rate whose smallest amount is below the query cost limit: a query the cost limit
    allows would be refused however long its client waited. The rates were read first
    when uvicorn started the app, after Redis and the projectors: a typo stopped the
    server under a traceback, exit 3."""
    if not rates.enabled:
        return
    defaults = RateLimits()
    for rate in fields(RateLimits):
        if rate.name == "enabled":
            continue
        name, value = f"INKWELL_RATE_LIMIT_{rate.name.upper()}", getattr(rates, rate.name)
        example = getattr(defaults, rate.name)
        try:
            items = parse_many(value)
        except ValueError:
            raise ValueError(f"{name} must be rates such as {example}, not {value!r}") from None
        # `0/minute` reads as a rate, and refused every request it governs with a 500
        # (an outside probe): `off` is the way to let everything through.
        if any(item.amount < 1 for item in items):
            raise ValueError(
                f"{name} must allow at least 1 a window (rates such as {example}), "
                f"not {value!r}; INKWELL_RATE_LIMITS=off turns every rate limit off"
            )
        # The parser reads a window of 0 as a window of 1 (`3/0second`, 3 a second),
        # which nobody writing it meant (a re-check probe took it for a limit turned off);
        # and Redis refused the expiry of a window of 3,000,000,000 years, so the limit
        # failed open at every request (another).
        if ZERO_WINDOW.search(value) or any(
            item.get_expiry() > LONGEST_WINDOW_SECONDS for item in items
        ):
            raise ValueError(
                f"{name} must have windows from 1 second to 1 year (rates such as "
                f"{example}), not {value!r}"
            )
    smallest = min(item.amount for item in parse_many(rates.query_cost))
    if smallest < edge.max_query_cost:
        raise ValueError(
            f"INKWELL_RATE_LIMIT_QUERY_COST allows {smallest} a window, less than one query "
            f"may cost (INKWELL_MAX_QUERY_COST, {edge.max_query_cost})"
        )


LONGEST_WINDOW_SECONDS = 366 * 24 * 3600
ZERO_WINDOW = re.compile(r"(?:/|\bper\b)\s*0+\s*[a-z]", re.IGNORECASE)


def _switch(env: Mapping[str, str], name: str, default: str) -> str:
    """ "on" or "off" (any case); anything else is refused at start-up."""
    switch = (env.get(name) or default).strip().lower()
    if switch not in {"on", "off"}:
        raise ValueError(f"{name} must be on or off, not {switch!r}")
    return switch
