"""Charging a request's query-cost budgets: its client address's, and its user's when
signed in (the rates in protection/config.py, `query_cost`). What is charged to them is
decided elsewhere: an operation's cost (protection/query_cost_rate.py), a search's walks,
a document's first parse (protection/new_documents.py)."""

from __future__ import annotations

from protection.addresses import client_of
from protection.throttle import Charged, throttle_of


async def charge(ctx: object, cost: int) -> Charged:
    """Charges `cost` to the request context's client address, and to its user when
    signed in; raises RateLimited past either budget. Nothing when rate limits are off.
    Returns what it charged, for `give_back`."""
    throttle = throttle_of(ctx)
    if throttle is None:
        return []
    address = client_of(ctx)
    viewer = getattr(ctx, "viewer_id", None)
    counts = [(throttle.query_cost, address)]
    if viewer is not None:
        counts.append((throttle.query_cost_per_token, viewer))
    return await throttle.hit_all(counts, cost)


async def give_back(ctx: object, charged: Charged, cost: int) -> None:
    """Takes `cost` back off what `charge` charged: a charge made for the most that
    something may cost, once it is known to have cost less."""
    throttle = throttle_of(ctx)
    if throttle is not None and charged and cost > 0:
        await throttle.give_back(charged, cost)
