"""A mutation's answer may page: `archivePost(...) { post { comments(first: 500) } }`.

The comments resolver refuses that page with BAD_USER_INPUT, but only after the command
was committed: the answer carries an error, yet the post is archived. Bad input must
change nothing, so before a mutation runs, every page size and cursor in its document is
checked as the resolvers check them (projections/readers/pagination.py), and a bad one
refuses the whole operation, unrun. Queries keep their partial answers: they change
nothing either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
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

from projections.readers.pagination import MAX_FIRST, BadPageRequest, Position, check_first


def refuse_bad_pages(execution: ExecutionContext) -> None:
    """Sets the one pre-execution error BAD_USER_INPUT when a mutation's document holds
    a page size out of range or a cursor this server did not make."""
    document = execution.graphql_document
    if document is None or execution.pre_execution_errors != []:
        return
    if execution.operation_type is not OperationType.MUTATION:
        return
    problem = first_bad_page(document, execution.variables or {})
    if problem is not None:
        execution.pre_execution_errors = [
            GraphQLError(problem, extensions={"code": "BAD_USER_INPUT"})
        ]


def first_bad_page(document: DocumentNode, variables: Mapping[str, Any]) -> str | None:
    """What the resolvers would refuse first among the page arguments, or None."""
    given = dict(variables)
    for definition in document.definitions:  # defaults apply where a variable is not given
        if isinstance(definition, OperationDefinitionNode):
            for variable in definition.variable_definitions or ():
                name = variable.variable.name.value
                if name not in given and variable.default_value is not None:
                    given[name] = _literal(variable.default_value)
    problems: list[str] = []

    class Pages(Visitor):
        def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
            value = _literal(node.value)
            if isinstance(node.value, VariableNode):
                value = given.get(node.value.name.value)
            if (problem := _check(node.name.value, value)) is not None:
                problems.append(problem)

    visit(document, Pages())
    return problems[0] if problems else None


def _literal(node: Any) -> Any:
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, StringValueNode):
        return node.value
    return None


def _check(argument: str, value: Any) -> str | None:
    try:
        if argument == "first" and type(value) is int:
            check_first(value)
        elif argument == "last" and type(value) is int and not 0 <= value <= MAX_FIRST:
            raise BadPageRequest(f"last must be between 0 and {MAX_FIRST}")
        elif argument in ("after", "before") and isinstance(value, str) and value:
            Position.from_cursor(value)
    except BadPageRequest as refused:
        return str(refused)
    return None
