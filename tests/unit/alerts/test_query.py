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
    ("", "empty query"),
    ("   \t ", "empty query"),
    ("author:jane", "unknown field 'author'"),
    ("topic:a AND Author:jane", "unknown field 'Author'"),
    ("openai", "unexpected 'openai' at column 1"),
    ("topic:a openai", "unexpected 'openai' at column 9"),
    ("topic:a && topic:b", "unexpected '&&' at column 9"),
    ("(topic:a", "missing closing parenthesis"),
    ("((topic:a) OR topic:b", "missing closing parenthesis"),
    ("topic:a)", "unexpected ')' after a complete query"),
    ("()", "expected a term, found ')'"),
    ("topic:a AND", "query ends where a term was expected"),
    ("topic:a OR", "query ends where a term was expected"),
    ("NOT", "query ends where a term was expected"),
    ("topic:a AND NOT", "query ends where a term was expected"),
    ("AND topic:a", "expected a term, found 'AND'"),
    ("OR topic:a", "expected a term, found 'OR'"),
    ("topic:a OR OR topic:b", "expected a term, found 'OR'"),
    ("topic:a AND OR topic:b", "expected a term, found 'OR'"),
    ('source:"The Verge', "unterminated quote"),
    ('source:"', "unterminated quote"),
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
