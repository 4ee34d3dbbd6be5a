"""Rate limits on mutations: registerUser per client address (anonymous, so strictest),
every other mutation per user (or per address when anonymous).

Each mutation field of a request counts, not the request: `mutation { a: registerUser(..)
b: registerUser(..) }` is two registrations. Counted per request, thirty aliases made
the ten registrations a minute three hundred."""

from __future__ import annotations

from collections import Counter

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    get_operation_ast,
)
from strawberry.types import ExecutionContext
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from protection.addresses import client_of
from protection.throttle import RateLimited, Throttle, throttle_of

REGISTER = "registerUser"


async def limit_writes(execution: ExecutionContext) -> None:
    """Called just before an operation executes (schema.InkwellSchema). A mutation past its
    rate gets RATE_LIMITED as its result, and strawberry answers that instead of running
    it. Reads the throttle and the client from the request context (schema.context)."""
    ctx = execution.context
    throttle = throttle_of(ctx)
    if (
        throttle is None
        or execution.result is not None
        or execution.operation_type is not OperationType.MUTATION
    ):
        return
    address = client_of(ctx)
    viewer = getattr(ctx, "viewer_id", None)
    fields = _root_fields(execution)
    registrations = fields.pop(REGISTER, 0)
    writes = sum(count for name, count in fields.items() if not name.startswith("__"))
    if too_many := _past_a_whole_window(throttle, registrations, writes):
        execution.result = PreExecutionError(data=None, errors=[too_many])
        return
    try:
        if registrations:
            await throttle.hit(throttle.register, address, cost=registrations)
        if writes or not registrations:  # `mutation { __typename }` counts as one write
            await throttle.hit(throttle.writes, viewer or address, cost=max(writes, 1))
    except RateLimited as limited:
        error = GraphQLError(
            str(limited), extensions={"code": "RATE_LIMITED", "retryAfter": limited.retry_after}
        )
        execution.result = PreExecutionError(data=None, errors=[error])


def _past_a_whole_window(
    throttle: Throttle, registrations: int, writes: int
) -> GraphQLError | None:
    """QUERY_TOO_COMPLEX for a mutation of more fields than its rate allows in a whole
    window: 11 aliased registerUser against 10 a minute were told RATE_LIMITED, try again
    in 1 s, again and again, when no wait would let them in (a re-check probe)."""
    for rule, count, variable in (
        (throttle.register, registrations, "INKWELL_RATE_LIMIT_REGISTER"),
        (throttle.writes, writes, "INKWELL_RATE_LIMIT_WRITES"),
    ):
        if count > rule.most:
            return GraphQLError(
                f"This mutation has {count} fields counted as {rule.kind}; at most "
                f"{rule.most} fit in one request ({variable}): send fewer at a time.",
                extensions={"code": "QUERY_TOO_COMPLEX", "count": count, "most": rule.most},
            )
    return None


def _root_fields(execution: ExecutionContext) -> Counter[str]:
    """How often each root field of the mutation is selected (an alias is one more),
    through inline fragments and fragment spreads (`... on Mutation { registerUser }` is
    still a registration)."""
    document = execution.graphql_document
    operation = get_operation_ast(document, execution.operation_name) if document else None
    if document is None or operation is None:
        return Counter()
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    names: Counter[str] = Counter()
    seen: set[str] = set()
    pending = [operation.selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                names[selection.name.value] += 1
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                seen.add(selection.name.value)
                if fragment := fragments.get(selection.name.value):
                    pending.append(fragment.selection_set)
    return names
