"""The document memos keep what clients send within a number of entries and of characters."""

from __future__ import annotations

from schema.document_memo import DocumentMemo


class Counted:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, text: str, extra: int = 0) -> str:
        self.calls.append((text, extra))
        return text.upper()


def test_a_text_is_computed_once_and_its_other_arguments_are_part_of_the_key() -> None:
    function = Counted()
    memo = DocumentMemo(function, max_entries=8, max_characters=1_600)
    assert memo("{ a }") == memo("{ a }") == "{ A }"
    memo("{ a }", 1)
    memo("{ a }", 1)
    assert function.calls == [("{ a }", 0), ("{ a }", 1)]


def test_a_text_over_a_sixteenth_of_the_budget_is_kept_alone_until_the_next() -> None:
    """Computed every time, one request's several asks for a 1 MB document's parse
    parsed it seven times."""
    function = Counted()
    memo = DocumentMemo(function, max_entries=8, max_characters=1_600)
    kept, long, other = "x" * 100, "y" * 101, "z" * 101
    for _ in range(3):  # one request asks again and again
        assert memo(kept) == kept.upper()
        assert memo(long) == long.upper()
    assert function.calls.count((kept, 0)) == 1
    assert function.calls.count((long, 0)) == 1
    memo(other)  # the next long text takes its place
    memo(long)
    assert function.calls.count((long, 0)) == 2
    assert memo(kept) == kept.upper() and function.calls.count((kept, 0)) == 1


def test_the_least_recently_used_go_first_when_the_characters_pass_the_budget() -> None:
    function = Counted()
    memo = DocumentMemo(function, max_entries=100, max_characters=1_600)
    texts = [f"{n:03d}" * 33 for n in range(20)]  # 99 characters each: 16 fit
    for text in texts:
        memo(text)
    memo(texts[4])  # used again: now the newest
    memo(texts[19])
    function.calls.clear()
    for text in (texts[4], *texts[-15:]):
        memo(text)
    assert function.calls == []  # all kept: 16 x 99 characters
    memo(texts[0])
    assert function.calls == [(texts[0], 0)]  # evicted long ago


def test_the_number_of_entries_is_bounded_too() -> None:
    function = Counted()
    memo = DocumentMemo(function, max_entries=3, max_characters=1_600)
    for text in ("a", "b", "c", "d"):
        memo(text)
    function.calls.clear()
    memo("a")
    memo("d")
    assert function.calls == [("a", 0)]
