"""Memos of what a document's text yields (its parse, its validation, its cost), bounded by
the characters they keep as well as by their number of entries.

A count alone did not bound them: the token limit leaves room for nearly a megabyte of
comments or one long string, and an outside probe sent 1,100 distinct documents of
900 KB that the parse and cost caches kept, taking a fresh server from 107 MB to 1.97 GB
for good. Here the texts kept add up to at most `max_characters`, and a text longer than
a sixteenth of that is kept apart, among the last LARGE_KEPT such texts (clients send a
handful of small documents; GraphiQL's introspection query is about 2 KB). A parsed document holds
about 70 bytes per character of a dense query, so the memory kept stays in the tens of
megabytes whatever clients send. The texts among the other arguments count too (an
`operationName` is part of some keys): a 120,000-character name beside a 28-character
query was kept at the query's weight, and 1,024 of them held 123 MB, 492 MB in emoji
(an outside probe, over a socket's subscribe messages).

Used from the event loop's thread only, like the schema it serves.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Concatenate, Generic, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

MAX_CHARACTERS = 256 * 1024
# Long texts kept apart. One was evicted between the reads of one request whenever
# another socket's long text came in between: a comment-padded query over a socket was
# parsed four times (a re-check probe). The token limit bounds each one's parse.
LARGE_KEPT = 4


class DocumentMemo(Generic[P, R]):
    """`function(text, ...)` remembered per (text, ...), least recently used out first."""

    def __init__(
        self,
        function: Callable[Concatenate[str, P], R],
        max_entries: int,
        max_characters: int = MAX_CHARACTERS,
    ) -> None:
        self._function = function
        self._max_entries = max_entries
        self._max_characters = max_characters
        self._largest_kept = max_characters // 16
        self._entries: OrderedDict[tuple[str, tuple[Hashable, ...]], R] = OrderedDict()
        self._characters = 0
        self._large: OrderedDict[tuple[str, tuple[Hashable, ...]], R] = OrderedDict()

    def __call__(self, text: str, *args: P.args, **kwargs: P.kwargs) -> R:
        key = (text, (*args, *kwargs.items()))
        if _characters(key) > self._largest_kept:
            return self._large_one(key, text, *args, **kwargs)
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        value = self._function(text, *args, **kwargs)
        self._entries[key] = value
        self._characters += _characters(key)
        while len(self._entries) > self._max_entries or self._characters > self._max_characters:
            oldest, _ = self._entries.popitem(last=False)
            self._characters -= _characters(oldest)
        return value

    def holds(self, text: str, *args: P.args, **kwargs: P.kwargs) -> bool:
        """Whether `function(text, ...)` is remembered: a call would cost nothing."""
        key = (text, (*args, *kwargs.items()))
        return key in (self._large if _characters(key) > self._largest_kept else self._entries)

    def _large_one(
        self, key: tuple[str, tuple[Hashable, ...]], text: str, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """A text too long to keep among the others is kept apart, among the last
        LARGE_KEPT: one request asks for its parse, validation and cost several times
        over, and each of them parsed it again (seven parses of a 1 MB document, 0.28 s
        each)."""
        if key in self._large:
            self._large.move_to_end(key)
            return self._large[key]
        value = self._function(text, *args, **kwargs)
        self._large[key] = value
        if len(self._large) > LARGE_KEPT:
            self._large.popitem(last=False)
        return value


def _characters(key: tuple[str, tuple[Hashable, ...]]) -> int:
    """The characters a key keeps: its text's, and those of the texts among its other
    arguments (a keyword argument is a (name, value) pair)."""
    text, others = key
    count = len(text)
    for other in others:
        if isinstance(other, tuple) and len(other) == 2:
            other = other[1]
        if isinstance(other, str):
            count += len(other)
    return count
