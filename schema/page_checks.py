"""Page sizes and cursors checked before an operation runs, where a refusal at the field
would come too late.

A mutation's answer may page: `archivePost(...) { post { comments(first: 500) } }`.
The comments resolver refuses that page with BAD_USER_INPUT, but only after the command
was committed: the answer carries an error, yet the post is archived. Bad input must
change nothing, so before a mutation runs, every page size and cursor in its document is
checked as the resolvers check them (projections/readers/pagination.py), and a bad one
refuses the whole operation, unrun.

A subscription's selection runs again on every change: `post(id: $id) { comments(first:
101) { totalCount } }` answered the same error after each like, for as long as the
socket stayed open, holding its share of the live budget. Its resolvers refuse it
before the first item instead (schema/subscriptions.py, FieldErrors), as a malformed id
is refused. Queries keep their partial answers: they change nothing, and end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from graphql import (
    ArgumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    IntValueNode,
    OperationDefinitionNode,
    StringValueNode,
    VariableNode,
    Visitor,
    visit,
)
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from projections.readers.pagination import (
    MAX_FIRST,
    BadPageRequest,
    Position,
    check_first,
    one_direction,
)
from schema.document_memo import DocumentMemo
from schema.parsed import parsed_document

PAGE_ARGUMENTS = ("first", "last", "after", "before")
Argument = tuple[str, Any, str | None]  # name, literal value, variable name
Field = tuple[Argument, ...]  # one field's page arguments
# An operation's fields' page arguments (those of the document's fragments too) and its
# variables' defaults.
Operation = tuple[tuple[Field, ...], dict[str, Any]]


CACHED = 1024  # distinct mutation documents whose page arguments are remembered


def refuse_bad_pages(execution: ExecutionContext) -> None:
    """Sets the one pre-execution error BAD_USER_INPUT when a mutation's document holds
    a page size out of range or a cursor this server did not make."""
    query = execution.query
    if query is None or execution.graphql_document is None:
        return
    if execution.pre_execution_errors != []:
        return
    try:
        if execution.operation_type is not OperationType.MUTATION:
            return
    except RuntimeError:  # no such operation: strawberry refuses the request next
        return
    problem = first_bad_page(query, execution.variables or {}, execution.operation_name)
    if problem is not None:
        extensions = {"code": "BAD_USER_INPUT", "field": problem.field}
        execution.pre_execution_errors = [GraphQLError(str(problem), extensions=extensions)]


def first_bad_page(
    query: str, variables: Mapping[str, Any], operation_name: str | None = None
) -> BadPageRequest | None:
    """What the resolvers of the operation run would refuse first among its page
    arguments, or None. Another operation of the document is not run, and its variables'
    defaults are its own (an outside probe: a query's default hid a mutation's page,
    refused only after the command had run)."""
    operations = page_arguments(query)
    if operation_name is None and len(operations) == 1:
        operation_name = next(iter(operations))
    if operation_name not in operations:
        return None  # strawberry refuses the request: no such operation
    fields, defaults = operations[operation_name]
    return _first_problem(fields, lambda variable: variables.get(variable, defaults.get(variable)))


def bad_page_in(
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> BadPageRequest | None:
    """`first_bad_page` of the operation graphql-core runs, from what it hands a resolver:
    the operation, the document's fragments and the variables, coerced and defaulted."""
    fields = _fields(operation) + [f for fragment in fragments.values() for f in _fields(fragment)]
    return _first_problem(fields, variables.get)


def _first_problem(
    fields: Iterable[Field], value_of: Callable[[str], Any]
) -> BadPageRequest | None:
    """The first refusal among the fields' page arguments; `value_of` gives a variable's."""
    for arguments in fields:
        given = {
            name: _as_coerced(literal if variable is None else value_of(variable))
            for name, literal, variable in arguments
        }
        try:
            one_direction(given.get("first"), given.get("last"))
        except BadPageRequest as refused:
            return refused
        for name, value in given.items():
            if (problem := _check(name, value)) is not None:
                return problem
    return None


def _as_coerced(value: Any) -> Any:
    """A variable's JSON value as graphql-core gives it to an Int argument: 500.0 and
    5e2 are 500 (an outside probe: taken for no int, they passed this check, and the
    resolver refused them after the command had run)."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


def _page_arguments(query: str) -> dict[str | None, Operation]:
    """Each operation's page arguments, per field that has any, (name, literal value,
    variable name), with its variables' defaults: read once per document, since walking
    it costs about 100 us.
    The parse is the process's (schema/parsed.py): parsing again here doubled a long
    mutation's cost, outside the token limit (an outside probe)."""
    document = parsed_document(query)
    assert document is not None, "read only once validated"
    fragments = [d for d in document.definitions if isinstance(d, FragmentDefinitionNode)]
    in_fragments = [field for fragment in fragments for field in _fields(fragment)]
    operations: dict[str | None, Operation] = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            defaults = {
                variable.variable.name.value: _literal(variable.default_value)
                for variable in definition.variable_definitions or ()
                if variable.default_value is not None
            }
            name = definition.name.value if definition.name else None
            operations[name] = (tuple(_fields(definition)) + tuple(in_fragments), defaults)
    return operations


def _fields(definition: OperationDefinitionNode | FragmentDefinitionNode) -> list[Field]:
    found: list[Field] = []

    class Pages(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            pages = tuple(
                _argument(a) for a in node.arguments or () if a.name.value in PAGE_ARGUMENTS
            )
            if pages:
                found.append(pages)

    visit(definition, Pages())
    return found


page_arguments = DocumentMemo(_page_arguments, CACHED)


def _argument(node: ArgumentNode) -> Argument:
    variable = node.value.name.value if isinstance(node.value, VariableNode) else None
    return node.name.value, _literal(node.value), variable


def _literal(node: Any) -> Any:
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, StringValueNode):
        return node.value
    return None


def _check(argument: str, value: Any) -> BadPageRequest | None:
    try:
        if argument == "first" and type(value) is int:
            check_first(value)
        elif argument == "last" and type(value) is int and not 0 <= value <= MAX_FIRST:
            raise BadPageRequest(f"last must be between 0 and {MAX_FIRST}", "last")
        elif argument in ("after", "before") and isinstance(value, str) and value:
            Position.from_cursor(value, argument)
    except BadPageRequest as refused:
        return refused
    return None
