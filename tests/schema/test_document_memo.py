"""The document memos keep what clients send within a number of entries and of characters."""

from __future__ import annotations

from schema.document_memo import LARGE_KEPT, DocumentMemo


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


def test_a_text_over_a_sixteenth_of_the_budget_is_kept_apart_among_the_last_few() -> None:
    """Computed every time, one request's several asks for a 1 MB document's parse
    parsed it seven times; kept alone, another socket's long text in between evicted it
    (a comment-padded query over a socket was parsed four times: a re-check probe)."""
    function = Counted()
    memo = DocumentMemo(function, max_entries=8, max_characters=1_600)
    kept, long = "x" * 100, "y" * 101
    others = [str(n) * 101 for n in range(LARGE_KEPT)]
    for _ in range(3):  # one request asks again and again
        assert memo(kept) == kept.upper()
        assert memo(long) == long.upper()
    for other in others[:-1]:  # other requests' long texts, in between
        memo(other)
    memo(long)
    assert function.calls.count((kept, 0)) == 1
    assert function.calls.count((long, 0)) == 1
    memo(others[-1])  # the oldest of LARGE_KEPT + 1 goes
    memo(others[0])
    assert function.calls.count((others[0], 0)) == 2


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


def test_texts_among_the_other_arguments_count_against_the_budget() -> None:
    """An `operationName` of 120,000 characters beside a short query was kept at the
    query's weight: 1,024 of them held 123 MB (an outside probe)."""
    calls: list[tuple[str, str]] = []

    def named(text: str, name: str) -> str:
        calls.append((text, name))
        return text

    memo = DocumentMemo(named, max_entries=100, max_characters=1_600)
    names = [f"{n:02d}" * 45 for n in range(20)]  # 90 characters, 95 with the query
    for name in names:
        memo("{ a }", name)
    calls.clear()
    for name in names[-16:]:  # 16 x 95 fit in 1,600
        memo("{ a }", name)
    assert calls == []
    memo("{ a }", names[0])
    assert calls == [("{ a }", names[0])]
    memo("{ a }", "n" * 101)  # over a sixteenth with its name: kept apart
    assert memo.holds("{ a }", "n" * 101)
