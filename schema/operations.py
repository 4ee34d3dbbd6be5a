"""Parsing and validating each distinct document once, not once per request.

strawberry builds its extensions anew for every request, and its ParserCache and
ValidationCache are extensions: with the limiters' rule classes rebuilt per request the
validation cache never hit, and the extension machinery itself cost about 18% of a
small query (py-spy, issue 11). Here the rules are fixed for the process
(schema/limits.py), so a document's validation errors depend on its text alone, and
both steps are cached by text in bounded LRU caches: the parse is the process's
(schema/parsed.py), the validation the schema's.
"""

from __future__ import annotations

from graphql import (
    ASTValidationRule,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    get_operation_ast,
    parse,
    validate,
)
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext

from domain.errors import ECHO_MAX
from schema.document_memo import DocumentMemo
from schema.limits import MAX_DOCUMENT_CHARACTERS, PARSE_OPTIONS, VALIDATION_RULES
from schema.parsed import CACHED_DOCUMENTS, parsed_document

SEVERAL_OPERATIONS = "The document holds several operations: send the operationName to run."
# strawberry's validate_document runs these after the rules it is given; it is called here
# as it would call it, but with MAX_ERRORS.
STRAWBERRY_RULES = (MaybeNullValidationRule, OneOfInputValidationRule)
# graphql-core stops validating at its 101st error by default. An error notes its line
# and column, found by reading the document up to it, so a long document of wrong items
# cost about 70 µs an error (100 unused variables: 7 ms of 910 characters). Ten say
# what is wrong as well as a hundred; the eleventh says that validation stopped.
MAX_ERRORS = 10

# What strawberry is given for a document refused unparsed: it asks the operation's type of
# every document before it answers the refusal, and an empty one has none (a 500).
STAND_IN = parse("{ __typename }")


class PreparedOperations:
    """The parse (the process's) and validation (this schema's) caches of one schema."""

    def __init__(
        self,
        schema: GraphQLSchema,
        rules: tuple[type[ASTValidationRule], ...] = VALIDATION_RULES,
    ) -> None:
        """`rules` are fixed for the schema's life, like the caches' contents."""
        self._schema = schema
        self._rules = rules
        self.parsed = parsed_document  # the process's: the text alone decides it
        self.validated = DocumentMemo(self._validate, CACHED_DOCUMENTS)

    def prepare(self, context: ExecutionContext) -> None:
        """Fills in the document and its validation errors when the text parses; strawberry
        then skips both steps. Text that does not parse is left to strawberry, which
        parses it again (with the same limits) and reports the syntax error."""
        context.parse_options = PARSE_OPTIONS
        context.validation_rules = self._rules
        if not context.query:
            return
        if len(context.query) > MAX_DOCUMENT_CHARACTERS:
            context.graphql_document = STAND_IN  # never run: the refusal is answered
            context.pre_execution_errors = [_too_long(len(context.query))]
            return
        document = self.parsed(context.query)
        if document is not None:
            context.graphql_document = document
            context.pre_execution_errors = self.validated(context.query)

    def unselectable(self, query: str | None, operation_name: str | None) -> str | None:
        """Why `operation_name` selects no operation of the document to run, or None (also
        for a text that does not parse: execution reports that). Several operations and
        no name: strawberry would run the first, where GraphQL over HTTP asks the client
        to name one. A name that none has, or a document without operations: strawberry
        raises CannotGetOperationTypeError, which HTTP and both WebSocket protocols must
        answer as a request error."""
        document = self.parsed(query) if query else None
        if document is None or get_operation_ast(document, operation_name) is not None:
            return None
        operations = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
        if operation_name is None and operations > 1:
            return SEVERAL_OPERATIONS
        if operation_name is None:
            return CannotGetOperationTypeError(None).as_http_error_reason()
        return _unknown_operation(operation_name)

    def is_query(self, query: str | None, operation_name: str | None) -> bool:
        """Whether the operation the request selects is a query (not a mutation, whose
        answer says where its writes are, nor a subscription)."""
        document = self.parsed(query) if query else None
        operation = get_operation_ast(document, operation_name) if document else None
        return operation is not None and operation.operation is OperationType.QUERY

    def _validate(self, query: str) -> list[GraphQLError]:
        document = self.parsed(query)
        assert document is not None, "validated only once parsed"
        rules = (*self._rules, *STRAWBERRY_RULES)
        return validate(self._schema, document, rules, max_errors=MAX_ERRORS)


def _too_long(characters: int) -> GraphQLError:
    return GraphQLError(
        f"The document is {characters} characters long, over the limit of "
        f"{MAX_DOCUMENT_CHARACTERS}: send long texts in variables.",
        extensions={"code": "QUERY_TOO_COMPLEX", "maxCharacters": MAX_DOCUMENT_CHARACTERS},
    )


def _unknown_operation(name: str) -> str:
    """graphql-js's and strawberry's wording, with the name cut as every client value an
    error quotes is (domain/errors.py excerpt): a 500,000-character operationName came
    back whole."""
    if len(name) <= ECHO_MAX:
        return f'Unknown operation named "{name}".'
    return f'Unknown operation named "{name[:ECHO_MAX]}..." ({len(name)} characters).'
