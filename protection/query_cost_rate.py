"""A budget of query cost per client address and per user, shared by every API process.

The request rate counts requests, not what they ask for: one client within its 1,200 a
minute sent `recentPosts(first: 100) { ... comments(first: 100) { ... } }` (cost 20,302,
within the cost limit; 0.2-0.4 s of the event loop each over 10,000 comments) twenty
times a second, and another client's `{ __typename }` p99 went from 49 ms to 20 s. The
budget counts what the queries and mutations of a client cost, with the cost the cost
limit computed before they run (schema/limits/cost.py).

Subscriptions' runs are not charged (strawberry runs them without the hook that calls
this): what a client's live subscriptions cost is bounded by the subscription budget
(protection/subscription_budget.py), and they run again when others write, not when
their client asks: charging those runs would bill a reader of the live page for everyone
else's writes. A resumed subscription's catch-up (`feed(after:)`, `commentAdded(after:)`)
is charged, though (`charge`, from schema/subscriptions.py): it is a page of what
changed, asked for by its client. docs/security.md (Query cost) says what a subscribe's
first run may cost, uncharged. A query run again after a torn read is charged again
(`rerun_charged`).
"""

from __future__ import annotations

from graphql import GraphQLError
from strawberry.types import ExecutionContext
from strawberry.types.execution import PreExecutionError

from projections.readers.pagination import Charge
from protection.cost_budget import charge
from protection.throttle import RateLimited
from schema.limits.cost import priced

# What a search's walk inside Redis is charged (searching): the costliest query the cost
# limit allows (20,302) took 0.3-0.4 s of CPU, about 17 us a unit; a member read or looked
# up in a slice of an intersection about 0.6 us of Redis (92 ms for ten words in 83% of
# 20,000 posts, 150,000 of them), so 32 of them are about a unit.
LOOKUPS_PER_UNIT = 32


async def charge_query_cost(execution: ExecutionContext) -> None:
    """Called just before a query or a mutation executes (schema.InkwellSchema): its cost
    is charged to its client address, and to its user when signed in. Past either budget
    its result is RATE_LIMITED, a pre-execution error that strawberry answers instead of
    running it: over HTTP a 429 with Retry-After (with application/graphql-response+json),
    over a WebSocket an `error` for its id. An operation that costs nothing
    (`{ __typename }`) is not counted."""
    cost = priced(execution)
    if execution.result is not None or not cost:
        return
    try:
        await charge(execution.context, cost)
    except RateLimited as limited:
        error = GraphQLError(
            f"Query cost budget spent: this operation costs {cost}; try again in "
            f"{limited.retry_after} s (what a client's queries and mutations cost is "
            "counted per address and per user; ask for smaller pages to spend less).",
            extensions={"code": "RATE_LIMITED", "retryAfter": limited.retry_after, "cost": cost},
        )
        execution.result = PreExecutionError(data=None, errors=[error])


async def rerun_charged(execution: ExecutionContext) -> bool:
    """A query run again because a write tore its reads (schema/torn_reads.py) reads as
    much again, and is charged again; False, and it is not run again, once that is past
    a budget. Charged once, an outside probe's sixteen costliest queries from four
    addresses under 45 writes a second ran 28 times for 16 charges."""
    cost = priced(execution)
    if not cost:
        return True
    try:
        await charge(execution.context, cost)
    except RateLimited:
        return False
    return True


def searching(ctx: object) -> Charge:
    """What a search's walks and count cost Redis, charged to the request's budgets as
    they go (projections/readers/pagination.in_every): the cost limit priced the search
    before it ran by its page, not by the posts its words are in, and a count of ten
    common words walks every post holding the rarest of them. Past a budget the search
    stops with RATE_LIMITED."""

    async def charge_lookups(lookups: int) -> None:
        cost = -(-lookups // LOOKUPS_PER_UNIT)
        try:
            await charge(ctx, cost)
        except RateLimited as limited:
            raise SearchStopped(cost, limited.retry_after) from None

    return charge_lookups


class SearchStopped(RateLimited):
    """A search stopped for the query cost budget before its next call to Redis (it had
    read "Too many query cost")."""

    def __init__(self, cost: int, retry_after: int) -> None:
        super().__init__("query cost", retry_after)
        self.args = (
            f"Query cost budget spent: this search's next step in Redis costs {cost}; try "
            f"again in {retry_after} s (a search pays for the posts holding its words: "
            "fewer or rarer words cost less, and totalCount is counted only when asked for).",
        )
