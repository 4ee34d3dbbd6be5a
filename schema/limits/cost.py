"""What a query costs to answer: every field once per object it is resolved on, with list
sizes (`first`/`last`, or their defaults when omitted) multiplied along the path, like
GitHub's node limit but counting each field, so a wide selection costs as much as it weighs.

`recentPosts(first: 100) { edges { node { comments(first: 100) { edges { node { id } } } } } }`
costs 1 + 1 + 100 + 100 + 100 + 100 x 100 x 2 = 20,302.

A subscription's selection runs again on every change of what it follows, so its cost is
paid per change, not once: it has a limit of its own, far below a query's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    Visitor,
    get_named_type,
    get_operation_ast,
    is_composite_type,
    visit,
)
from strawberry.types import ExecutionContext

from domain.rules import BIO_MAX, COMMENT_MAX, CONTENT_MAX, URL_MAX
from projections.readers.pagination import MAX_FIRST
from schema.document_memo import DocumentMemo

PAGE_ARGUMENTS = ("first", "last")
CACHED = 1024  # distinct (document, operation, page sizes) remembered
# Lists without a page argument, by the most they hold. Any other list of objects counts
# as a full page, so a list added later is never free.
LIST_SIZES = {("Post", "topComments"): 3}
# Lists as long as the list an argument gives (at most a page: more is refused). Counted
# as a full page, `nodes(ids: [one id])` with a post's usual fragment cost 57,201 and was
# refused, while the same selection under `node(id:)` ran.
LISTED_BY = {("Query", "nodes"): "ids"}
# Texts long enough to weigh on an answer's size count one per 500 characters they may
# hold. Counted as 1, thirty aliases of `nodes(ids: [...])` asking for the same
# 100,000-character post 100 times cost 3,030 and answered 300 MB to a 5 KB request (an
# outside probe); now the limit holds an answer to about 125 full contents (12.5 MB),
# and `recentPosts(first: 100)` with every content still fits.
CHARACTERS_PER_UNIT = 500
TEXT_WEIGHTS = {
    ("Post", "content"): CONTENT_MAX // CHARACTERS_PER_UNIT,
    ("Comment", "body"): COMMENT_MAX // CHARACTERS_PER_UNIT,
    ("User", "bio"): BIO_MAX // CHARACTERS_PER_UNIT,
    ("User", "avatarUrl"): URL_MAX // CHARACTERS_PER_UNIT,
    ("Author", "avatarUrl"): URL_MAX // CHARACTERS_PER_UNIT,
}


@dataclass(frozen=True)
class CostLimit:
    """`max_cost` holds for every operation. `max_subscription_cost` holds for
    subscriptions too: 40 subscriptions of 24,000 each from one socket, re-run at every
    like or comment of one post, took another client's `{ __typename }` from 3 ms to a
    p99 of seconds. The live page's own cost 259 (`feed`) and 501 (`projections`); a
    post with a page of 20 comments and their authors, 686; with a full page of 100,
    2,261."""

    max_cost: int = 25_000
    max_subscription_cost: int = 2_500

    def of(self, operation: OperationType | None) -> int:
        """The limit of an operation of this type (None: no operation is selected)."""
        if operation is OperationType.SUBSCRIPTION:
            return min(self.max_cost, self.max_subscription_cost)
        return self.max_cost


class QueryCost:
    """The cost of one operation of a validated document, with its variables."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = fragments
        self.defaults: dict[str, Any] = {}
        self.memo: dict[tuple[str, int | None], int] = {}

    def operation(self, operation: OperationDefinitionNode) -> int:
        for definition in operation.variable_definitions or ():
            name, default = definition.variable.name.value, definition.default_value
            if isinstance(default, IntValueNode):
                self.defaults[name] = int(default.value)
            elif isinstance(default, ListValueNode):  # ids a `nodes` is given by default
                self.defaults[name] = [None] * len(default.values)
        root = {
            OperationType.QUERY: self.schema.query_type,
            OperationType.MUTATION: self.schema.mutation_type,
            OperationType.SUBSCRIPTION: self.schema.subscription_type,
        }[operation.operation]
        if root is None:
            return 0
        return self.selection_set(operation.selection_set, root, None)

    def selection_set(
        self, selection_set: SelectionSetNode, parent: GraphQLCompositeType, page: int | None
    ) -> int:
        """Cost per object of `parent`; `page` is the page size of the connection `parent`
        is, which sizes its list fields (edges)."""
        cost = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                cost += self.field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self._object(condition.name.value) if condition else parent
                if inner is not None:
                    cost += self.selection_set(selection.selection_set, inner, page)
            elif isinstance(selection, FragmentSpreadNode):
                cost += self.fragment(selection.name.value, page)
        return cost

    def fragment(self, name: str, page: int | None) -> int:
        key = (name, page)
        if key not in self.memo:
            self.memo[key] = 0  # a cycle (refused by validation already) costs nothing more
            definition = self.fragments.get(name)
            inner = self._object(definition.type_condition.name.value) if definition else None
            if definition is not None and inner is not None:
                self.memo[key] = self.selection_set(definition.selection_set, inner, page)
        return self.memo[key]

    def field(self, node: FieldNode, parent: GraphQLCompositeType, page: int | None) -> int:
        name = node.name.value
        definition = getattr(parent, "fields", {}).get(name)  # a union has none
        if name.startswith("__") or definition is None:
            return 0
        size = self._page_size(node, definition.args)
        inner = get_named_type(definition.type)
        if node.selection_set is None or not is_composite_type(inner):
            return TEXT_WEIGHTS.get((parent.name, name), 1)
        if _is_list(definition.type):
            count = size if size is not None else page
            if count is None and (parent.name, name) in LISTED_BY:
                count = self._listed(node, LISTED_BY[parent.name, name])
            if count is None:
                count = LIST_SIZES.get((parent.name, name), MAX_FIRST)
            return 1 + count * self.selection_set(node.selection_set, inner, None)
        return 1 + self.selection_set(node.selection_set, inner, size)

    def _page_size(self, node: FieldNode, arguments: Mapping[str, Any]) -> int | None:
        sizes = [
            self._argument(node, name, arguments[name].default_value)
            for name in PAGE_ARGUMENTS
            if name in arguments
        ]
        known = [size for size in sizes if size is not None]
        return max(known) if known else None

    def _argument(self, node: FieldNode, name: str, default: Any) -> int | None:
        value: Any = default
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            given = argument.value
            if isinstance(given, IntValueNode):
                value = int(given.value)
            elif isinstance(given, VariableNode):
                variable = given.name.value
                value = self.variables.get(variable, self.defaults.get(variable, default))
            elif isinstance(given, NullValueNode):
                value = default  # an explicit null means the default page
        if value is None and default is not None:
            value = default
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        # Larger pages are refused by the resolvers (BAD_USER_INPUT); count what they allow.
        return max(0, min(value, MAX_FIRST))

    def _listed(self, node: FieldNode, name: str) -> int | None:
        """How many items the list argument `name` gives (None: not known)."""
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            given = argument.value
            if isinstance(given, ListValueNode):
                return min(len(given.values), MAX_FIRST)
            if isinstance(given, VariableNode):
                variable = given.name.value
                value = self.variables.get(variable)  # None too when the cache has none
                return list_length(self.defaults.get(variable) if value is None else value)
            return 1  # one value where a list is expected is a list of one
        return None

    def _object(self, name: str) -> GraphQLCompositeType | None:
        found = self.schema.type_map.get(name)
        return found if is_composite_type(found) else None


def list_length(value: Any) -> int | None:
    """How many items a list variable's value gives once coerced, at most a page (None:
    none given, refused later)."""
    if value is None:
        return None
    return min(len(value), MAX_FIRST) if isinstance(value, list) else 1


def _is_list(kind: GraphQLOutputType) -> bool:
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return isinstance(kind, GraphQLList)


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> int:
    """The cost of the operation a request runs (validation has passed: fragments are
    acyclic and known, the operation exists)."""
    operations = [
        definition
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
        and (
            operation_name is None
            or bool(definition.name and definition.name.value == operation_name)
        )
    ]
    if not operations:
        return 0
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    return QueryCost(schema, fragments, variables or {}).operation(operations[0])


# A page-size variable the request leaves out, in the cost cache's key: the operation's
# default for it applies (`$n: Int = 100`), where an explicit null gives the argument's own
# default. Both were None there, and a query that left out `$n` was costed at `first`'s
# default of 20 while it ran 100 a page: 28 aliases of two nested connections, counted
# 24,696 against the limit of 25,000, answered 102,508 comments in 7.6 s (an outside probe).
_ABSENT = "absent"

# Where refuse_if_costly keeps an operation's cost on strawberry's ExecutionContext, a
# dataclass with no field for it.
_PRICE = "_inkwell_cost"


def priced(execution: ExecutionContext) -> int | None:
    """The cost of an operation the cost limit let through; None for one it did not cost
    (a document that does not parse or validate, or one refused for its cost)."""
    price = execution.__dict__.get(_PRICE)
    return price if isinstance(price, int) else None


class QueryCosts:
    """The cost check of one schema. A cost depends only on the document, the operation
    and the variables that size lists (page sizes, the ids `nodes` is given), so it is
    computed once per distinct combination of the document, operation and sizes."""

    def __init__(
        self,
        schema: GraphQLSchema,
        limit: CostLimit,
        parsed: Callable[[str], DocumentNode | None],
    ) -> None:
        """`parsed` is the schema's document cache: the caches here are keyed by text,
        since hashing a document walks all of it (about 100 us for a small query)."""
        self.schema = schema
        self.limit = limit
        self._parsed = parsed
        self._size_variables = DocumentMemo(self._uncached_size_variables, CACHED)
        self._cost = DocumentMemo(self._uncached_cost, CACHED)

    def refuse_if_costly(self, execution: ExecutionContext) -> None:
        """Called once the document is parsed and validated, before anything runs: a valid
        operation over its limit gets QUERY_TOO_COMPLEX with its cost as its one
        pre-execution error, so strawberry answers that instead (subscriptions too). The
        cost of one within its limit is kept with it, for the client's budget (priced)."""
        document, query = execution.graphql_document, execution.query
        if document is None or query is None or execution.pre_execution_errors != []:
            return  # not parsed here, or already refused
        operation = get_operation_ast(document, execution.operation_name)
        kind = operation.operation if operation else None
        limit = self.limit.of(kind)
        spent = self.cost(query, document, execution.operation_name, execution.variables)
        if spent <= limit:
            execution.__dict__[_PRICE] = spent
            return
        what = "Subscription" if kind is OperationType.SUBSCRIPTION else "Query"
        execution.pre_execution_errors = [
            GraphQLError(
                f"{what} too complex: it costs {spent}, over the limit of {limit} (every "
                "field counts once per object it is resolved on; lists count `first` "
                "objects; a subscription's cost is paid again on every change).",
                extensions={"code": "QUERY_TOO_COMPLEX", "cost": spent, "maxCost": limit},
            )
        ]

    def item_cost(
        self,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> int:
        """What a subscription costs each time it sends an item: a resumed one
        (`after:`) may be sent as many as fit the query cost limit in one burst, as a page
        of as many posts must, and is charged for them (protection/query_cost_rate.py)."""
        return QueryCost(self.schema, fragments, variables).operation(operation)

    def cost(
        self,
        query: str,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
    ) -> int:
        """The cost of a parsed and validated document's operation with these variables."""
        variables = variables or {}
        sizes = tuple(
            list_length(variables.get(name)) if listed else variables.get(name, _ABSENT)
            for name, listed in self._size_variables(query)
        )
        if all(size is None or size is _ABSENT or type(size) is int for size in sizes):
            return self._cost(query, operation_name, sizes)
        # A page size of the wrong type: refused later, but never cached.
        return operation_cost(self.schema, document, operation_name, variables)

    def _uncached_cost(
        self, query: str, operation_name: str | None, sizes: tuple[int | str | None, ...]
    ) -> int:
        document = self._parsed(query)
        assert document is not None, "costed only once parsed"
        variables = {
            name: [None] * size if listed and isinstance(size, int) else size
            for (name, listed), size in zip(self._size_variables(query), sizes, strict=True)
            if size is not _ABSENT
        }
        return operation_cost(self.schema, document, operation_name, variables)

    def _uncached_size_variables(self, query: str) -> tuple[tuple[str, bool], ...]:
        """The variables a document passes as `first` or `last`, or as a list whose length
        sizes a list field (LISTED_BY, marked True), in a fixed order."""
        document = self._parsed(query)
        assert document is not None, "costed only once parsed"
        listing = set(LISTED_BY.values())
        found: dict[tuple[str, bool], None] = {}

        class Sizes(Visitor):
            def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
                name = node.name.value
                if isinstance(node.value, VariableNode) and (
                    name in PAGE_ARGUMENTS or name in listing
                ):
                    found[node.value.name.value, name in listing] = None

        visit(document, Sizes())
        return tuple(found)
