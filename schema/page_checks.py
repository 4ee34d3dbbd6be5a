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

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from graphql import (
    ArgumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
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
    """What the resolvers would refuse first among the page arguments of the fields the
    operation runs, from what graphql-core hands a resolver: the operation, the
    document's fragments and the variables, coerced and defaulted. Only the fields that
    run count: those of fragments it spreads, none that @skip or @include leave out (an
    item that never fails must not be refused: a re-check probe)."""
    return _first_problem(_run_fields(operation.selection_set, fragments, variables), variables.get)


def _run_fields(
    selections: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    spread: set[str] | None = None,
) -> Iterator[Field]:
    """The page arguments of each field under `selections` that runs, fragments spread
    followed once each (validation has refused cycles)."""
    spread = set() if spread is None else spread
    for node in selections.selections:
        if not _included(node, variables):
            continue
        if isinstance(node, FieldNode):
            if pages := _pages(node):
                yield pages
            if node.selection_set is not None:
                yield from _run_fields(node.selection_set, fragments, variables, spread)
        elif isinstance(node, InlineFragmentNode):
            yield from _run_fields(node.selection_set, fragments, variables, spread)
        elif isinstance(node, FragmentSpreadNode) and node.name.value not in spread:
            spread.add(node.name.value)
            if (fragment := fragments.get(node.name.value)) is not None:
                yield from _run_fields(fragment.selection_set, fragments, variables, spread)


def _included(node: SelectionNode, variables: Mapping[str, Any]) -> bool:
    """Whether @skip and @include let the selection run, as graphql-core decides it."""
    for directive in node.directives or ():
        name = directive.name.value
        if name not in ("skip", "include"):
            continue
        condition = next((a.value for a in directive.arguments or () if a.name.value == "if"), None)
        if isinstance(condition, VariableNode):
            value = variables.get(condition.name.value)
        else:
            value = getattr(condition, "value", None)
        if (name == "skip") == bool(value):
            return False
    return True


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
            if pages := _pages(node):
                found.append(pages)

    visit(definition, Pages())
    return found


page_arguments = DocumentMemo(_page_arguments, CACHED)


def _pages(node: FieldNode) -> Field:
    return tuple(_argument(a) for a in node.arguments or () if a.name.value in PAGE_ARGUMENTS)


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
