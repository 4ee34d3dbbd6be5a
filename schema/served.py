"""The served schema: strawberry's Schema with Inkwell's hooks, and build_schema that makes it."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Collection, Iterable, Mapping
from contextlib import aclosing
from typing import Any

import strawberry
from graphql import (
    GraphQLArgument,
    GraphQLError,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLSchema,
    NoSchemaIntrospectionCustomRule,
    OperationType,
    Undefined,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.execution import PreExecutionError

from protection.query_cost_rate import charge_query_cost, rerun_charged
from protection.write_rate import limit_writes
from schema.consistency import consistently
from schema.errors import Outages, code_errors, is_unexpected
from schema.execution import Executor, NoExtensions
from schema.exposure import Exposure
from schema.limits import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS, VALIDATION_RULES
from schema.limits.cost import CostLimit, QueryCosts
from schema.limits.variables import refuse_many_values
from schema.mutations import Mutation
from schema.names import MemoizedNameConverter
from schema.operations import PreparedOperations
from schema.page_checks import refuse_bad_pages
from schema.queries import Query
from schema.subscriptions import Subscription
from schema.torn_reads import untorn

__all__ = ["MAX_ALIASES", "MAX_DEPTH", "MAX_TOKENS", "InkwellSchema", "build_schema"]

log = logging.getLogger(__name__)


class InkwellSchema(strawberry.Schema):
    """strawberry's schema with no per-request extensions: what they did is done here,
    once per schema (parse and validation caches, schema/operations.py) or in a hook.

    The hooks override strawberry's private `_create_execution_context` and
    `_execute_operation` (pinned strawberry 0.341.2; tests/schema covers each one)."""

    def __init__(
        self,
        *args: Any,
        cost_limit: CostLimit | None = None,
        exposure: Exposure | None = None,
        outages: Outages = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        _drop_null_defaults(self._schema)
        self.exposure = exposure or Exposure()
        self.outages = outages
        rules = VALIDATION_RULES
        if not self.exposure.introspection:
            rules = (*rules, NoSchemaIntrospectionCustomRule)
        self.operations = PreparedOperations(self._schema, rules)
        self.costs = QueryCosts(self._schema, cost_limit or CostLimit(), self.operations.parsed)

    def live_cost(
        self, query: str | None, operation_name: str | None, variables: Mapping[str, Any] | None
    ) -> int | None:
        """What a subscribe's operation costs on every change (a client's budget counts it,
        protection/subscription_budget.py); None for one the schema refuses or runs once
        on its own terms: a document that does not parse or validate, a query or a
        mutation, a subscription over its cost limit (QUERY_TOO_COMPLEX)."""
        document = self.operations.parsed(query) if query else None
        if query is None or document is None or self.operations.validated(query):
            return None
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
            return None
        cost = self.costs.cost(query, document, operation_name, variables)
        return cost if cost <= self.costs.limit.of(OperationType.SUBSCRIPTION) else None

    def runnable(
        self,
        query: str,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        allowed: Collection[str] | None = None,
    ) -> bool:
        """Whether a request runs this document: it parses, validates (the shape limits
        are validation rules), the operation it names is of a type the transport runs
        (`allowed` names them, "query" and so on; any if None) and within its cost limit
        with these variables. A persisted query is stored only then (schema/persisted.py):
        a subscription sent over HTTP was stored, and its hash alone then answered
        BAD_REQUEST rather than PERSISTED_QUERY_NOT_FOUND."""
        document = self.operations.parsed(query)
        if document is None or self.operations.validated(query):
            return False
        operation = get_operation_ast(document, operation_name)
        if allowed is not None and (operation is None or operation.operation.value not in allowed):
            return False
        limit = self.costs.limit.of(operation.operation if operation else None)
        return self.costs.cost(query, document, operation_name, variables) <= limit

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        if extensions:
            return super().create_extensions_runner(execution_context, extensions)
        return NoExtensions(execution_context)

    def _create_execution_context(self, *args: Any, **kwargs: Any) -> ExecutionContext:
        context = super()._create_execution_context(*args, **kwargs)
        self.operations.prepare(context)
        refuse_many_values(context)
        self.costs.refuse_if_costly(context)
        refuse_bad_pages(context)
        return context

    async def _execute_operation(self, execution_context: ExecutionContext, *args: Any) -> Any:
        async def run() -> Any:
            return await super(InkwellSchema, self)._execute_operation(execution_context, *args)

        async def charged() -> Any:
            await charge_query_cost(execution_context)  # only what will run: after the wait
            await limit_writes(execution_context)
            return await run()

        return await untorn(
            execution_context,
            lambda: consistently(execution_context, charged, run),
            lambda: consistently(execution_context, run, run),
            rerun_charged,
        )

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        """Every error leaves with its code. Done here, not in an operation hook: a query
        that fails to parse unwinds those hooks before any result exists."""
        result = await super().execute(*args, **kwargs)
        code_errors(result, not self.exposure.suggestions, self.outages)
        return result

    async def stream(self, *args: Any, **kwargs: Any) -> Any:
        """WebSocket operations: every item of the stream leaves with its codes too, and a
        first result that never ran is a refusal (_refused_unrun)."""
        results = await super().stream(*args, **kwargs)
        return _coded(results, not self.exposure.suggestions, self.outages)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Refused commands and bad input are answers, not incidents: log only the rest.
        An outage is one line (the store's own logs and the error metrics say more), not
        a traceback per request while it lasts."""
        for error in errors:
            if not is_unexpected(error):
                continue
            if isinstance(error.original_error, self.outages):
                log.warning("store unavailable in %s: %r", error.path, error.original_error)
            else:
                log.error("unexpected error in %s", error.path, exc_info=error.original_error)


async def _coded(
    results: AsyncGenerator[Any, None], hide_suggestions: bool, outages: Outages
) -> AsyncIterator[Any]:
    async with aclosing(results):
        first = True
        async for result in results:
            code_errors(result, hide_suggestions, outages)
            yield _refused_unrun(result) if first else result
            first = False


def _refused_unrun(result: Any) -> Any:
    """A query or mutation whose variables do not fit their types is refused before it
    runs, as over HTTP (no `data`): graphql-core answers it with `data: null` and errors
    with no path, which both WebSocket handlers sent as a result (`next`, `data`) where a
    refusal is an `error` for the id, as a subscription's is."""
    never_ran = (
        isinstance(result, ExecutionResult)
        and not isinstance(result, PreExecutionError)
        and result.data is None
        and result.errors
        and not any(error.path for error in result.errors)
    )
    if not never_ran:
        return result
    return PreExecutionError(data=None, errors=result.errors, extensions=result.extensions)


def _drop_null_defaults(schema: GraphQLSchema) -> None:
    """Optional arguments and input fields with no default, as the contract declares them
    (`after: String`). strawberry gives each Python default of None the GraphQL default
    null (`after: String = null`), which introspection shows (`defaultValue: "null"`,
    23 places of the contract) and graphql-core's own schema comparison does not see. An
    omitted value reaches the resolver or the input as its Python default all the same."""
    for kind in schema.type_map.values():
        if isinstance(kind, GraphQLInputObjectType):
            fields: Iterable[GraphQLInputField | GraphQLArgument] = kind.fields.values()
        elif isinstance(kind, GraphQLObjectType):
            fields = (
                argument for field in kind.fields.values() for argument in field.args.values()
            )
        else:
            continue
        for field in fields:
            if field.default_value is None:
                field.default_value = Undefined


def build_schema(
    cost_limit: CostLimit | None = None,
    exposure: Exposure | None = None,
    outages: Outages = (),
    outage_wait_seconds: float = 60.0,
) -> InkwellSchema:
    """`exposure` says whether introspection and "Did you mean" hints are served;
    `outages` which exceptions mean a store cannot be reached (UNAVAILABLE), and how long
    a subscription's item that met one waits it out (schema/execution.py)."""
    # Validating a query costs ~6 ms with stock strawberry; cached, a repeat costs nothing.
    return InkwellSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        execution_context_class=Executor.waiting_out(outages, outage_wait_seconds),
        config=StrawberryConfig(name_converter=MemoizedNameConverter()),
        cost_limit=cost_limit,
        exposure=exposure,
        outages=outages,
    )
