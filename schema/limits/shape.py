"""The shape of a document, fragments expanded, in one pass: depth, aliases, fields, repeats,
and the lists graphql-core's rules walk once per item: variables, arguments, directives
and the fields of object literals.

A fragment's summary does not depend on where it is spread, so each is computed once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from graphql import (
    ArgumentNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
)


@dataclass(frozen=True)
class ShapeLimits:
    max_depth: int = 10  # fields nested in fields; introspection fields do not count
    max_aliases: int = 30
    # Fields once every fragment is expanded. Without fragments the token limit already
    # bounds this; with them a small document could otherwise name millions.
    max_fields: int = 5_000
    # One response name selected this often in one selection set (through fragments, say)
    # makes graphql-core's overlapping-fields check quadratic: 600 copies cost 1.2 s.
    max_repeats: int = 20
    # Selection sets inside selection sets, inline fragments and spreads included.
    max_nesting: int = 64
    # Repeats multiplied along a path (Summary.overlap): the repeat limit holds one
    # selection set at a time, and graphql-core compares every pair of same-named fields
    # with their sub-selections merged: 11 x 20 x 19 repeats, each level within the
    # limit, cost 0.3-0.7 s a request (a re-check probe), and 20 x 20 fields with fields
    # (`viewer { posts { totalCount } }`) 0.7 s. Within both limits below, the worst
    # shapes measured took 12-15 ms of that check.
    max_overlap: int = 200
    max_composite_overlap: int = 32  # the same, counting only fields with fields
    # Named fragments spread side by side: graphql-core compares every pair of those in
    # one selection set, the spreads inside its inline fragments counted as its own. 280
    # one-field fragments spread in one set, within every other limit, took 148-157 ms of
    # that check, and one attacker held another client at p50 0.16-0.21 s (a re-check
    # probe); wrapped each in an inline fragment, the same (a second). 50 took 11-12 ms.
    # A set's spreads squared, and their sum over the document's sets as written:
    max_spread_pairs: int = 2_500
    max_document_spread_pairs: int = 10_000
    # The whole schema (`__schema`), however aliased: each copy of GraphiQL's introspection
    # query answered about 55 KB in about 18 ms of the event loop; 22 aliased copies in one
    # request held the loop 0.35-0.45 s, and four clients sending them took every other
    # client's p50 to 1.2 s (an outside probe).
    max_schemas: int = 1
    # Lists the standard rules walk item by item, each item wrong making an error of its
    # own, with its source location (and, unless hidden, its suggestions): within the
    # token limit, 1,200 unknown fields of one input object literal held the event loop
    # 0.92 s; 800 unused variables, 1,200 unknown arguments or 600 repeated @include,
    # 46-110 ms each (an outside probe), charged as about 30 ms (protection/
    # new_documents.py). The schema's widest field takes 5 arguments, its widest input 6
    # fields, and only @include and @skip apply where a query puts directives.
    max_variables: int = 100  # declared by one operation
    max_arguments: int = 20  # given to one field or directive
    max_directives: int = 8  # on one field, fragment, operation or variable
    max_object_fields: int = 24  # in one input object literal


@dataclass
class Summary:
    """A selection set with its fragments expanded."""

    depth: int = 0
    nesting: int = 0
    aliases: int = 0
    fields: int = 0
    repeats: int = 0  # the most times one response name is selected in one selection set
    schemas: int = 0  # `__schema` fields
    names: Counter[str] = field(default_factory=Counter)  # response names at this level
    # Per response name of fields with fields at this level, the largest overlap under
    # one field of that name: counting every field, and counting only fields with fields.
    below: dict[str, tuple[int, int]] = field(default_factory=dict)
    # The most a path multiplies repeats: a name's count here times the overlap under it,
    # the largest over the names (set when the selection set is done, `settle`).
    overlap: int = 1
    composite_overlap: int = 1

    def merge_level(self, other: Summary) -> None:
        """Adds an inline fragment or spread, one level in: its fields belong to this level.
        Costs one step per name it adds, and each name is a field counted against
        max_fields, so all merging together stays linear."""
        self.depth = max(self.depth, other.depth)
        self.nesting = max(self.nesting, other.nesting + 1)
        self.aliases += other.aliases
        self.fields += other.fields
        self.schemas += other.schemas
        self.repeats = max(self.repeats, other.repeats)
        for name, count in other.names.items():
            self.names[name] += count
            self.repeats = max(self.repeats, self.names[name])
        for name, overlaps in other.below.items():
            self.add_below(name, overlaps)

    def add_below(self, name: str, overlaps: tuple[int, int]) -> None:
        held = self.below.get(name, (1, 1))
        self.below[name] = (max(held[0], overlaps[0]), max(held[1], overlaps[1]))

    def settle(self) -> None:
        self.overlap = max(
            (count * self.below.get(name, (1, 1))[0] for name, count in self.names.items()),
            default=1,
        )
        self.composite_overlap = max(
            (self.names[name] * overlaps[1] for name, overlaps in self.below.items()), default=1
        )


class TooComplex(Exception):
    pass


class Shapes:
    """Summarises the operations of one document, each fragment once."""

    def __init__(self, document: DocumentNode, limits: ShapeLimits) -> None:
        self.limits = limits
        self.fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self.summaries: dict[str, Summary] = {}
        self.in_progress: set[str] = set()
        self.spread_pairs = 0  # over the document's selection sets as written

    def operation(self, operation: OperationDefinitionNode) -> Summary:
        variables = operation.variable_definitions or ()
        _within(len(variables), self.limits.max_variables, "the operation declares {} variables")
        self._directives(operation.directives)
        for variable in variables:
            self._directives(variable.directives)
            if variable.default_value is not None:
                self._value(variable.default_value)
        summary = self.selection_set(operation.selection_set, 0)
        # Depth is checked here only: a fragment's own depth says nothing until it is used
        # (the introspection query's TypeRef is deep, but only below __schema).
        _within(summary.depth, self.limits.max_depth, "the query is {} fields deep")
        return summary

    def selection_set(self, selection_set: SelectionSetNode, nesting: int) -> Summary:
        if nesting >= self.limits.max_nesting:
            # Also what keeps this recursion shallow, whatever the document.
            raise TooComplex(
                f"selections are nested more than {self.limits.max_nesting} levels deep"
            )
        summary = Summary()
        pairs = _spreads(selection_set) ** 2
        _within(pairs, self.limits.max_spread_pairs, "fragments spread side by side make {} pairs")
        self.spread_pairs += pairs
        _within(
            self.spread_pairs,
            self.limits.max_document_spread_pairs,
            "the document's fragments spread side by side make {} pairs",
        )
        for selection in selection_set.selections:
            self._directives(selection.directives)
            if isinstance(selection, FieldNode):
                self._arguments(selection.arguments)
                summary.fields += 1
                summary.schemas += selection.name.value == "__schema"
                summary.aliases += selection.alias is not None
                name = (selection.alias or selection.name).value
                summary.names[name] += 1
                summary.repeats = max(summary.repeats, summary.names[name])
                below = (
                    self.selection_set(selection.selection_set, nesting + 1)
                    if selection.selection_set
                    else Summary()
                )
                if selection.selection_set:  # only fields with fields are compared deeper
                    summary.add_below(name, (below.overlap, below.composite_overlap))
                counted = not selection.name.value.startswith("__")
                summary.depth = max(summary.depth, below.depth + 1 if counted else 0)
                summary.nesting = max(summary.nesting, below.nesting + 1)
                summary.aliases += below.aliases
                summary.fields += below.fields
                summary.schemas += below.schemas
                summary.repeats = max(summary.repeats, below.repeats)
            elif isinstance(selection, InlineFragmentNode):
                summary.merge_level(self.selection_set(selection.selection_set, nesting + 1))
            elif isinstance(selection, FragmentSpreadNode):
                spread = self.fragment(selection.name.value, nesting + 1)
                if spread is not None:
                    summary.merge_level(spread)
            self._check(summary)
        summary.settle()
        limits = self.limits
        _within(
            summary.overlap,
            limits.max_overlap,
            "fields repeated within repeated fields multiply to {} along one path",
        )
        _within(
            summary.composite_overlap,
            limits.max_composite_overlap,
            "fields with fields repeated within repeated ones multiply to {} along one path",
        )
        return summary

    def fragment(self, name: str, nesting: int) -> Summary | None:
        """None for an unknown fragment or a cycle: the standard rules report those."""
        if name in self.summaries:
            return self.summaries[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.in_progress:
            return None
        self.in_progress.add(name)
        self._directives(definition.directives)
        summary = self.selection_set(definition.selection_set, nesting)
        self.in_progress.discard(name)
        self.summaries[name] = summary
        return summary

    def fragment_definition(self, definition: FragmentDefinitionNode) -> None:
        """Summarises a definition: the one its name spreads once (`fragment`: those spread
        already are), and a name defined again on its own. graphql-core refuses a name
        defined twice only after its rules have walked both: the second hid the first
        from the limits, and 400 repeats of one field in it held the event loop 0.34-0.6
        s a request (a re-check probe)."""
        name = definition.name.value
        if self.fragments[name] is definition:
            self.fragment(name, 0)
        else:
            self._directives(definition.directives)
            self.selection_set(definition.selection_set, 0)

    def _directives(self, directives: tuple[DirectiveNode, ...] | None) -> None:
        _within(len(directives or ()), self.limits.max_directives, "{} directives on one node")
        for directive in directives or ():
            self._arguments(directive.arguments)

    def _arguments(self, arguments: tuple[ArgumentNode, ...] | None) -> None:
        _within(len(arguments or ()), self.limits.max_arguments, "{} arguments to one field")
        for argument in arguments or ():
            self._value(argument.value)

    def _value(self, value: ValueNode) -> None:
        """Every object literal in the value, however deep in lists and objects: walked
        with a stack, as a list may nest as deep as the token limit allows."""
        pending = [value]
        while pending:
            node = pending.pop()
            if isinstance(node, ObjectValueNode):
                fields = node.fields or ()
                _within(len(fields), self.limits.max_object_fields, "an input object of {} fields")
                pending.extend(field.value for field in fields)
            elif isinstance(node, ListValueNode):
                pending.extend(node.values or ())

    def _check(self, summary: Summary) -> None:
        limits = self.limits
        _within(summary.aliases, limits.max_aliases, "the query has {} aliases")
        _within(summary.fields, limits.max_fields, "the query expands to {} fields")
        _within(summary.nesting, limits.max_nesting, "selections are nested {} levels deep")
        _within(
            summary.schemas,
            limits.max_schemas,
            "the query asks for the whole schema (__schema) {} times",
        )
        _within(
            summary.repeats,
            limits.max_repeats,
            "one field is selected {} times in one selection set",
        )


def _spreads(selection_set: SelectionSetNode) -> int:
    """The named fragments spread in a selection set as graphql-core compares them: those
    written in it, and in its inline fragments at any depth."""
    return sum(
        1
        if isinstance(selection, FragmentSpreadNode)
        else _spreads(selection.selection_set)
        if isinstance(selection, InlineFragmentNode)
        else 0
        for selection in selection_set.selections
    )


def _within(value: int, limit: int, says: str) -> None:
    """TooComplex past the limit: `says`, with the value in its `{}`, and the limit."""
    if value > limit:
        raise TooComplex(f"{says.format(value)}, over the limit of {limit}")


def problem(document: DocumentNode, limits: ShapeLimits) -> str | None:
    """Why the document is too complex, or None when every operation, and every fragment
    none of them spreads, fits the limits. graphql-core's rules check an unused fragment
    too (before NoUnusedFragments refuses it): 600 copies of one field in one cost its
    overlapping-fields check 1.2-2.5 s of the event loop (an outside probe)."""
    shapes = Shapes(document, limits)
    try:
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                shapes.operation(definition)
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                shapes.fragment_definition(definition)
    except TooComplex as error:
        return str(error)
    return None
