"""Fuzzing the two rule languages: topic rules (streams/tagging/rules.py) and subscription
queries (alerts/query.py).

tests/unit/streams/test_tagging.py and tests/unit/alerts/test_query.py check documented
trees and one example of each error message. Here:

- any text either parses or raises the module's own error (RuleError, QueryError), never
  IndexError, RecursionError or a bare ValueError, and error columns point into the text;
- a printer written here (neither module has one) turns generated trees into rule text,
  and parsing that text gives the tree back: precedence, juxtaposition as AND, quoting,
  prefixes, scopes and NEAR/n all mean what the module docstrings say;
- deep nesting is refused with the module's error instead of exhausting the stack;
- the phrase matcher finds exactly what a naive scan of the tokens finds;
- a subscription query's `triggers` (the index that decides which queries to evaluate for
  a story) never leaves out a query that holds.

Three bugs these tests found are fixed in streams/tagging/rules.py: deep nesting raised
RecursionError (now a RuleError past 50 levels), NEAR/<5,000 digits> a bare ValueError, and
bare words that start with "near" (nearly, nearby) were refused.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from wirewatch.alerts import query as q
from wirewatch.alerts.errors import QueryError, SubscriptionError
from wirewatch.alerts.subscriptions import from_mapping
from wirewatch.streams.tagging.matcher import NATIVE_SCAN, Pattern, PhraseMatcher
from wirewatch.streams.tagging.rules import (
    MAX_NEAR,
    SCOPES,
    And,
    Near,
    Not,
    Or,
    Rule,
    RuleError,
    Term,
)
from wirewatch.streams.tagging.rules import parse_rule as parse_topic_rule

LEVELS = {"or": 0, "and": 1, "near": 2, "unary": 3}
COLUMN = re.compile(r"column (\d+)")

# --- topic rules ----------------------------------------------------------------------

word = st.builds(str.__add__, st.sampled_from("abcnortz"),
                 st.text(st.sampled_from("abeiortz019"), max_size=5))


def _bare(text: str) -> bool:
    """A word that can stand unquoted: not an operator, and not NEAR itself."""
    return text not in ("and", "or", "not", "near") and not text.startswith("near/")


@st.composite
def terms_(draw: st.DrawFn, scoped: bool = True) -> Term:
    words = tuple(draw(st.lists(word, min_size=1, max_size=3)))
    prefix = len(words[-1]) >= 3 and draw(st.booleans())
    scope = draw(st.sampled_from(sorted(SCOPES))) if scoped else "any"
    return Term(words, prefix, scope)


@st.composite
def topic_rules(draw: st.DrawFn, scoped: bool = True, size: int = 8,
                allow_not: bool = True) -> Rule:
    """Rule trees as the parser builds them, about `size` terms; no NOT under a NEAR."""
    if size <= 1 or draw(st.integers(0, 3)) == 0:
        return draw(terms_(scoped))
    kind = draw(st.sampled_from(["not", "and", "or", "near"] if allow_not else
                                ["and", "or", "near"]))
    if kind == "not":
        return Not(draw(topic_rules(scoped, size - 1)))
    if kind == "near":
        return Near(draw(topic_rules(scoped, size // 2, False)),
                    draw(topic_rules(scoped, size // 2, False)), draw(st.integers(1, MAX_NEAR)))
    count = draw(st.integers(2, 3))
    operands = tuple(draw(topic_rules(scoped, size // count, allow_not)) for _ in range(count))
    return And(operands) if kind == "and" else Or(operands)


@st.composite
def topic_text(draw: st.DrawFn, rule: Rule, level: int = 0) -> str:
    """Rule text for a tree, with the optional spellings drawn: AND or juxtaposition,
    bare or quoted words, spaces around parentheses."""
    if isinstance(rule, Term):
        scope = "" if rule.scope == "any" and draw(st.booleans()) else f"{rule.scope}:"
        star = "*" if rule.prefix else ""
        if len(rule.words) == 1 and _bare(rule.words[0]) and draw(st.booleans()):
            return f"{scope}{rule.words[0]}{star}"
        return f'{scope}"{" ".join(rule.words)}"{star}'
    if isinstance(rule, Not):
        own, text = LEVELS["unary"], "NOT " + draw(topic_text(rule.operand, LEVELS["unary"]))
    elif isinstance(rule, Near):
        own = LEVELS["near"]
        text = (draw(topic_text(rule.left, LEVELS["unary"])) + f" NEAR/{rule.distance} "
                + draw(topic_text(rule.right, LEVELS["unary"])))
    elif isinstance(rule, And):
        own = LEVELS["and"]
        text = draw(st.sampled_from([" AND ", " ", " and "])).join(
            draw(topic_text(operand, LEVELS["near"])) for operand in rule.operands)
    else:
        own = LEVELS["or"]
        text = draw(st.sampled_from([" OR ", " or "])).join(
            draw(topic_text(operand, LEVELS["and"])) for operand in rule.operands)
    if own < level:
        return draw(st.sampled_from(["({})", "( {} )"])).format(text)
    return text


def _rescoped(rule: Rule, scope: str) -> Rule:
    if isinstance(rule, Term):
        return Term(rule.words, rule.prefix, scope)
    if isinstance(rule, Not):
        return Not(_rescoped(rule.operand, scope))
    if isinstance(rule, Near):
        return Near(_rescoped(rule.left, scope), _rescoped(rule.right, scope), rule.distance)
    return type(rule)(tuple(_rescoped(operand, scope) for operand in rule.operands))


rule_soup = st.lists(st.sampled_from(
    ["a", "b", "ceo", "x*", "ab*", "a*b", '"', '"net income"', '"x"*', "(", ")", " ", "\t",
     "AND", "OR", "NOT", "and", "NEAR", "NEAR/", "NEAR/3", "NEAR/0", "NEAR/51", "NEAR/٣",
     "near", "title:", "lead:", "body:", "any:", "where:", ":", "*", "é", "İ", "ﬁ", "$", "-",
     "\u00a0", "\x00"]), max_size=25).map("".join)


@given(st.one_of(st.text(), rule_soup))
@example("a NEAR/3 NOT b")
@example("title:")
@example('"')
def test_any_text_parses_to_a_rule_or_raises_rule_error(source: str) -> None:
    try:
        rule = parse_topic_rule(source)
    except RuleError as exc:
        for column in COLUMN.findall(str(exc)):
            assert 1 <= int(column) <= len(source), (source, str(exc))
    else:
        assert isinstance(rule, Term | Not | And | Or | Near)


@given(st.data())
def test_printed_rules_parse_back_to_the_same_tree(data: st.DataObject) -> None:
    rule = data.draw(topic_rules())
    text = data.draw(topic_text(rule))
    assert parse_topic_rule(text) == rule, text


@given(st.data(), st.sampled_from(sorted(SCOPES)))
def test_a_scope_before_parentheses_scopes_every_term_inside(data: st.DataObject,
                                                             scope: str) -> None:
    rule = data.draw(topic_rules(scoped=False))
    text = data.draw(topic_text(rule)).replace("any:", "")
    assert parse_topic_rule(f"{scope}:({text})") == _rescoped(rule, scope)


DEEP = 10_000
deeply_nested = [
    pytest.param("(" * DEEP + "a" + ")" * DEEP, id="parentheses"),
    pytest.param("NOT " * DEEP + "a", id="not-chain"),
    pytest.param("title:" * DEEP + "a", id="scope-chain"),
    pytest.param("(NOT " * DEEP + "a" + ")" * DEEP, id="mixed"),
]


@pytest.mark.parametrize("source", deeply_nested)
def test_deeply_nested_topic_rules_raise_rule_error(source: str) -> None:
    with pytest.raises(RuleError):
        parse_topic_rule(source)


def test_moderately_nested_topic_rules_parse() -> None:
    assert parse_topic_rule("(" * 40 + "a" + ")" * 40) == Term(("a",))
    assert parse_topic_rule("NOT " * 40 + "a") is not None


def test_a_huge_near_distance_is_a_rule_error() -> None:
    with pytest.raises(RuleError, match="use 1 to"):
        parse_topic_rule("a NEAR/" + "9" * 5000 + " b")


def test_words_that_start_with_near_are_words() -> None:
    assert parse_topic_rule("nearly OR nearby") == Or((Term(("nearly",)), Term(("nearby",))))


# --- the phrase matcher ---------------------------------------------------------------

vocabulary = st.sampled_from(["a", "ab", "abc", "abcd", "b", "ba", "$a", "c"])


def naive_occurrences(tokens: list[str], pattern: Pattern) -> list[tuple[int, int]]:
    found = []
    size = len(pattern.words)
    for start in range(len(tokens) - size + 1):
        window = tokens[start:start + size]
        if pattern.prefix:
            fits = window[:-1] == list(pattern.words[:-1]) and window[-1].startswith(
                pattern.words[-1])
        else:
            fits = window == list(pattern.words)
        if fits:
            found.append((start, start + size))
    return found


@given(st.lists(st.builds(Pattern, st.lists(vocabulary, min_size=1, max_size=3).map(tuple),
                          st.booleans()), min_size=1, max_size=8, unique_by=lambda p: p.key),
       st.lists(vocabulary, max_size=30), st.booleans())
def test_the_matcher_finds_what_a_naive_scan_finds(patterns: list[Pattern], tokens: list[str],
                                                   native: bool) -> None:
    matcher = PhraseMatcher(patterns, positional=range(len(patterns)),
                            native=native and NATIVE_SCAN)
    expected = {i: naive_occurrences(tokens, p) for i, p in enumerate(patterns)}
    assert matcher.present(tokens) == {i for i, found in expected.items() if found}
    for i in range(len(patterns)):
        assert matcher.occurrences(tokens, i) == expected[i], (patterns[i], tokens)


# --- subscription queries ---------------------------------------------------------------

# Any character a query may hold: control characters and bidi overrides are refused by
# design (tests/unit/alerts/test_query.py), so they are no round trip to test.
value = st.text(st.characters(exclude_characters="\\", exclude_categories=("Cc", "Cs"))
                .filter(lambda c: q.forbidden_character(c) is None),
                max_size=8).map(str.lower)
query_terms = st.builds(q.Term, st.sampled_from(sorted(q.FIELDS)), value)
queries = st.recursive(query_terms, lambda inner: st.one_of(
    inner.map(q.Not),
    st.lists(inner, min_size=2, max_size=3).map(lambda ops: q.And(tuple(ops))),
    st.lists(inner, min_size=2, max_size=3).map(lambda ops: q.Or(tuple(ops)))), max_leaves=8)


@st.composite
def query_text(draw: st.DrawFn, node: q.Node, level: int = 0) -> str:
    if isinstance(node, q.Term):
        field = draw(st.sampled_from([node.field, node.field.upper()]))
        return f'{field}:"{node.value.replace(chr(34), chr(92) + chr(34))}"'
    if isinstance(node, q.Not):
        own, text = LEVELS["unary"], "NOT " + draw(query_text(node.operand, LEVELS["unary"]))
    elif isinstance(node, q.And):
        own = LEVELS["and"]
        text = draw(st.sampled_from([" AND ", " ", " and "])).join(
            draw(query_text(operand, LEVELS["unary"])) for operand in node.operands)
    else:
        own = LEVELS["or"]
        text = draw(st.sampled_from([" OR ", " or "])).join(
            draw(query_text(operand, LEVELS["and"])) for operand in node.operands)
    return f"({text})" if own < level else text


query_soup = st.lists(st.sampled_from(
    ["entity:a", "topic:b", "source:", 'source:"x y"', 'source:"', '\\"', "(", ")", " ",
     "AND", "OR", "NOT", "not", "author:x", "openai", "&&", ":", '"']), max_size=25).map("".join)


@given(st.one_of(st.text(), query_soup))
def test_any_text_parses_to_a_query_or_raises_query_error(text: str) -> None:
    try:
        node = q.parse_query(text)
    except QueryError as exc:
        columns = COLUMN.findall(str(exc))
        assert columns, f"no column in {exc}"  # every parse error says where
        for column in columns:  # len + 1: the query ended where a term was expected
            assert 1 <= int(column) <= len(text) + 1, (text, str(exc))
    else:
        assert isinstance(node, q.Term | q.Not | q.And | q.Or)


@given(st.data())
def test_printed_queries_parse_back_to_the_same_tree(data: st.DataObject) -> None:
    node = data.draw(queries)
    text = data.draw(query_text(node))
    assert q.parse_query(text) == node, text


facts_ = st.fixed_dictionaries({field: st.frozensets(value, max_size=3)
                                for field in sorted(q.FIELDS)})


@given(queries, facts_)
def test_triggers_never_leave_out_a_query_that_holds(node: q.Node,
                                                    facts: dict[str, frozenset[str]]) -> None:
    needed = q.triggers(node)
    if needed is not None and q.evaluate(node, facts):
        assert any(value in facts[field] for field, value in needed)


@contextmanager
def stack_headroom(frames: int) -> Iterator[None]:
    """Allow only `frames` more frames than the caller already uses."""
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.parametrize("text", [
    pytest.param("(" * DEEP + "topic:a" + ")" * DEEP, id="parentheses"),
    pytest.param("NOT " * 1000 + "topic:a", id="not-chain-that-used-to-parse"),
    pytest.param("(NOT " * 30 + "topic:a" + ")" * 30, id="mixed"),
])
def test_deeply_nested_queries_are_query_errors(text: str) -> None:
    with pytest.raises(QueryError, match="nested too deeply"):
        q.parse_query(text)
    with pytest.raises(SubscriptionError, match="nested too deeply"):
        from_mapping({"name": "deep", "query": text})


def nested(builder: Callable[[str, int], str], levels: int) -> str:
    """A query with `levels` levels of nesting; `builder` wraps one level around a query."""
    text = "topic:a"
    for level in range(levels):
        text = builder(text, level)
    return text


@pytest.mark.parametrize("builder", [
    pytest.param(lambda inner, _: f"NOT {inner}", id="nots"),
    pytest.param(lambda inner, _: f"({inner} OR topic:b)", id="parentheses"),
    pytest.param(lambda inner, level: f"NOT {inner}" if level % 2 else f"(topic:b AND {inner})",
                 id="mixed"),
])
def test_the_deepest_accepted_query_evaluates_within_a_small_stack(
        builder: Callable[[str, int], str]) -> None:
    node = q.parse_query(nested(builder, q.MAX_DEPTH))
    facts = {"topic": frozenset({"a"})}
    with stack_headroom(250):  # the worker calls evaluate deep inside Faust and asyncio
        q.evaluate(node, facts)
        q.triggers(node)
        q.positive_terms(node)
    with pytest.raises(QueryError, match="nested too deeply"):
        q.parse_query(nested(builder, q.MAX_DEPTH + 1))
