"""The search box's query language (chatter.search_query): filters, text, and errors."""

from __future__ import annotations

import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from chatter.search_query import FILTERS, MAX_LENGTH, MAX_VALUES, Query, parse


def test_words_phrases_and_exclusions_are_the_text() -> None:
    query = parse('  lunch "next friday" -pizza or pasta  ')
    assert query.text == 'lunch "next friday" -pizza or pasta'
    assert query.terms == [
        ("lunch", False),
        ("next friday", False),
        ("pizza", True),
        ("pasta", False),
    ]
    assert not query.errors and not query.has_filters


def test_each_filter() -> None:
    query = parse(
        'from:alice from:@Bob in:"book club" in:bob before:2025-03-01 after:2025-01-31 hi'
    )
    assert query.senders == ["alice", "Bob"]
    assert query.rooms == ["book club", "bob"]
    assert query.before == datetime.date(2025, 3, 1)
    assert query.after == datetime.date(2025, 1, 31)
    assert query.text == "hi"
    assert not query.errors


def test_filter_names_ignore_case_and_other_names_are_text() -> None:
    query = parse("FROM:alice https://example.com/a note:x")
    assert query.senders == ["alice"]
    assert query.text == "https://example.com/a note:x"


def test_only_filters_is_a_search_and_nothing_is_not() -> None:
    assert not parse("from:alice").is_empty
    assert parse("   ").is_empty
    assert parse("").is_empty


def test_a_repeated_value_counts_once() -> None:
    assert parse("in:bob in:bob from:a from:@a").rooms == ["bob"]
    assert parse("from:a from:@a").senders == ["a"]


def test_bad_filters_say_what_is_wrong() -> None:
    cases = {
        "from:": "from: needs a value after the colon.",
        'in:""': "in: needs a value after the colon.",
        "before:2025-13-01": "before: needs a date written YYYY-MM-DD",
        "after:yesterday": "after: needs a date written YYYY-MM-DD",
        "after:2025-1-1": "after: needs a date written YYYY-MM-DD",
        "before:2025-01-01 before:2025-02-01": "before: may be given once.",
        "-from:bob": "A filter cannot be excluded",
        "before:2025-01-01 after:2025-01-01": "before: must be a later day than after:.",
    }
    for raw, error in cases.items():
        query = parse(raw)
        assert len(query.errors) == 1 and query.errors[0].startswith(error), (raw, query.errors)


def test_too_many_values_too_long_and_unsearchable_text() -> None:
    many = " ".join(f"from:u{i}" for i in range(MAX_VALUES + 1))
    assert parse(many).errors == [f"At most {MAX_VALUES} from: filters."]
    assert parse("x" * (MAX_LENGTH + 1)).errors == [
        f"A search may have at most {MAX_LENGTH} characters."
    ]
    assert parse("a\x00b").errors == ["A search cannot contain this character."]
    assert parse(["not", "text"]).errors == ["A search must be text."]  # type: ignore[arg-type]


def test_an_unclosed_quote_runs_to_the_end() -> None:
    assert parse('in:"book club').rooms == ["book club"]
    assert parse('"next fri').terms == [("next fri", False)]


_PIECES = st.sampled_from([*(f"{name}:" for name in FILTERS), '"', "-", " ", "or", "2025-01-02"])


@settings(max_examples=400)
@given(st.lists(_PIECES | st.text(max_size=12), max_size=12).map("".join) | st.text())
def test_parse_never_raises_and_keeps_its_promises(raw: str) -> None:
    query = parse(raw)
    assert isinstance(query, Query)
    assert all(isinstance(error, str) and error for error in query.errors)
    if not query.errors:
        assert len(query.senders) <= MAX_VALUES and len(query.rooms) <= MAX_VALUES
        assert "\x00" not in query.text
        assert all(value and "\x00" not in value for value in query.senders + query.rooms)
        if query.before and query.after:
            assert query.before > query.after
        # What is not a filter is kept as text, in order.
        assert all(words for words, _excluded in query.terms)
