"""Subscription query language: precedence, grouping, quoting, case, and error messages."""

from __future__ import annotations

import pytest
from wirewatch.alerts.errors import QueryError
from wirewatch.alerts.query import And, Not, Or, Term, evaluate, parse_query, positive_terms


def facts(**fields: str) -> dict[str, frozenset[str]]:
    """`facts(topic="a b", entity="x")` -> {"topic": {"a", "b"}, "entity": {"x"}}."""
    return {name: frozenset(values.split()) for name, values in fields.items()}


A, B, C = Term("topic", "a"), Term("topic", "b"), Term("topic", "c")


@pytest.mark.parametrize(("query", "tree"), [
    ("topic:a", A),
    ("topic:a AND topic:b", And((A, B))),
    ("topic:a topic:b", And((A, B))),  # juxtaposition means AND
    ("topic:a OR topic:b", Or((A, B))),
    ("NOT topic:a", Not(A)),
    ("NOT NOT topic:a", Not(Not(A))),
    # AND binds tighter than OR, on either side
    ("topic:a OR topic:b AND topic:c", Or((A, And((B, C))))),
    ("topic:a AND topic:b OR topic:c", Or((And((A, B)), C))),
    ("topic:a OR topic:b topic:c", Or((A, And((B, C))))),
    # NOT binds tighter than AND and OR
    ("NOT topic:a AND topic:b", And((Not(A), B))),
    ("NOT topic:a OR topic:b", Or((Not(A), B))),
    ("topic:a AND NOT topic:b", And((A, Not(B)))),
    # parentheses override precedence
    ("(topic:a OR topic:b) AND topic:c", And((Or((A, B)), C))),
    ("topic:a AND (topic:b OR topic:c)", And((A, Or((B, C))))),
    ("NOT (topic:a OR topic:b)", Not(Or((A, B)))),
    ("((topic:a))", A),
    ("topic:a(topic:b)", And((A, B))),
    # case-insensitive operators, field names and values
    ("topic:a and topic:b", And((A, B))),
    ("topic:a or not topic:b", Or((A, Not(B)))),
    ("TOPIC:A", A),
    ("Topic:A", A),
    # quoted values keep their spaces (and are lower-cased); escaped quotes
    ('source:"The Verge"', Term("source", "the verge")),
    ('entity:"Sam Altman" AND topic:a', And((Term("entity", "sam altman"), A))),
    ('source:"say \\"hi\\""', Term("source", 'say "hi"')),
    ("  topic:a   AND\ttopic:b  ", And((A, B))),
    ("entity:open-ai", Term("entity", "open-ai")),
])
def test_parse_query_builds_the_expected_tree(query: str, tree: object) -> None:
    assert parse_query(query) == tree


@pytest.mark.parametrize(("query", "message"), [
    ("", "empty query at column 1"),
    ("   \t ", "empty query at column 1"),
    ("author:jane", "unknown field 'author' at column 1"),
    ("topic:a AND Author:jane", "unknown field 'Author' at column 13"),
    ("openai", "unexpected 'openai' at column 1"),
    ("topic:a openai", "unexpected 'openai' at column 9"),
    ("topic:a && topic:b", "unexpected '&&' at column 9"),
    ("(topic:a", "missing closing parenthesis for the one at column 1"),
    ("((topic:a) OR topic:b", "missing closing parenthesis for the one at column 1"),
    ("topic:a OR (topic:b", "missing closing parenthesis for the one at column 12"),
    ("topic:a)", "unexpected ')' at column 8 after a complete query"),
    ("()", "expected a term, found ')' at column 2"),
    ("topic:a AND", "query ends where a term was expected, at column 12"),
    ("topic:a OR", "query ends where a term was expected, at column 11"),
    ("NOT", "query ends where a term was expected, at column 4"),
    ("topic:a AND NOT", "query ends where a term was expected, at column 16"),
    ("AND topic:a", "expected a term, found 'AND' at column 1"),
    ("OR topic:a", "expected a term, found 'OR' at column 1"),
    ("topic:a OR OR topic:b", "expected a term, found 'OR' at column 12"),
    ("topic:a AND OR topic:b", "expected a term, found 'OR' at column 13"),
    ("topic:x AND AND (", "expected a term, found 'AND' at column 13"),
    ("  NOT NOT", "query ends where a term was expected, at column 10"),
    ('source:"The Verge', "unterminated quote in source:\"The at column 8"),
    ('source:"', "unterminated quote in source:\" at column 8"),
])
def test_parse_query_rejects_bad_queries_with_a_clear_message(query: str, message: str) -> None:
    with pytest.raises(QueryError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        parse_query(query)


@pytest.mark.parametrize(("query", "story", "expected"), [
    ("topic:a", facts(topic="a"), True),
    ("topic:a", facts(topic="b"), False),
    ("topic:a", {}, False),
    ("topic:a AND topic:b", facts(topic="a b"), True),
    ("topic:a AND topic:b", facts(topic="a"), False),
    ("topic:a topic:b", facts(topic="a"), False),
    ("topic:a OR topic:b", facts(topic="b"), True),
    ("topic:a OR topic:b", facts(topic="c"), False),
    ("NOT topic:a", facts(topic="b"), True),
    ("NOT topic:a", facts(topic="a"), False),
    # a OR (b AND c): a alone suffices
    ("topic:a OR topic:b AND topic:c", facts(topic="a"), True),
    ("topic:a OR topic:b AND topic:c", facts(topic="b"), False),
    # (a OR b) AND c: a alone does not
    ("(topic:a OR topic:b) AND topic:c", facts(topic="a"), False),
    ("(topic:a OR topic:b) AND topic:c", facts(topic="b c"), True),
    ("entity:openai AND NOT source:x", facts(entity="openai", source="y"), True),
    ("entity:openai AND NOT source:x", facts(entity="openai", source="x"), False),
    # fields are separate namespaces
    ("entity:earnings", facts(topic="earnings"), False),
    ('entity:"sam altman"', {"entity": frozenset({"sam altman"})}, True),
    ("ENTITY:OpenAI", facts(entity="openai"), True),
])
def test_evaluate(query: str, story: dict[str, frozenset[str]], expected: bool) -> None:
    assert evaluate(parse_query(query), story) is expected


@pytest.mark.parametrize(("query", "terms"), [
    ("topic:a", ["topic:a"]),
    ("topic:a AND topic:b", ["topic:a", "topic:b"]),
    ("topic:a OR topic:b", ["topic:a", "topic:b"]),
    ("entity:x AND NOT source:y", ["entity:x"]),
    ("NOT (topic:a OR topic:b)", []),
    ("entity:x AND (topic:a OR NOT topic:b)", ["entity:x", "topic:a"]),
])
def test_positive_terms_skip_negated_terms(query: str, terms: list[str]) -> None:
    assert [f"{t.field}:{t.value}" for t in positive_terms(parse_query(query))] == terms


@pytest.mark.parametrize(("query", "message"), [
    pytest.param("topic:earnings\x00", r"control character \(U\+0000\) at column 15", id="nul"),
    pytest.param("topic:\u202eearnings", r"RIGHT-TO-LEFT OVERRIDE \(U\+202E\) at column 7",
                 id="rlo"),
    pytest.param("\u202atopic:a", r"LEFT-TO-RIGHT EMBEDDING \(U\+202A\) at column 1",
                 id="lre"),
    pytest.param('source:"a\u2066b"', r"LEFT-TO-RIGHT ISOLATE \(U\+2066\) at column 10",
                 id="isolate-inside-quotes"),
    pytest.param("topic:a \u2069", r"POP DIRECTIONAL ISOLATE \(U\+2069\) at column 9", id="pdi"),
    pytest.param("topic:a\x1b[31m", r"control character \(U\+001B\) at column 8", id="escape"),
])
def test_control_and_bidi_characters_are_refused(query: str, message: str) -> None:
    with pytest.raises(QueryError, match=message + " is not allowed in a query"):
        parse_query(query)


def test_tabs_and_line_breaks_are_whitespace() -> None:
    assert parse_query("topic:a\n\tAND topic:b\r\n") == And((Term("topic", "a"),
                                                             Term("topic", "b")))
