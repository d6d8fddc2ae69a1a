"""Subscription queries: `entity:openai AND (topic:earnings OR topic:layoffs) AND NOT source:x`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from wirewatch.alerts.errors import QueryError

FIELDS = frozenset({"entity", "topic", "source"})
# Parentheses and NOTs nested deeper than this are refused: the parser and `evaluate`
# recurse once per level, and a query accepted here must still evaluate deep inside the
# stream worker's call stack (1,000 NOTs parsed, then overflowed the worker's stack).
MAX_DEPTH = 50
_TOKEN = re.compile(r'\s*(?:(\()|(\))|([A-Za-z_]+):("(?:[^"\\]|\\.)*"|[^\s()]+)|(\S+))')
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


@dataclass(frozen=True)
class Term:
    field: str
    value: str


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node = Term | Not | And | Or
Facts = Mapping[str, frozenset[str]]


def _tokens(text: str) -> list[tuple[str, str, str]]:
    tokens: list[tuple[str, str, str]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:  # only trailing whitespace is left
            break
        position = match.end()
        opening, closing, field, value, word = match.groups()
        if opening:
            tokens.append(("(", "", ""))
        elif closing:
            tokens.append((")", "", ""))
        elif field:
            if field.lower() not in FIELDS:
                raise QueryError(f"unknown field {field!r}; use one of {sorted(FIELDS)}")
            if value.startswith('"'):
                if not _QUOTED.fullmatch(value):
                    raise QueryError(f"unterminated quote in {field}:{value} at column "
                                     f"{match.start(4) + 1}")
                value = value[1:-1].replace('\\"', '"')
            tokens.append(("term", field.lower(), value.lower()))
        elif word.upper() in ("AND", "OR", "NOT"):
            tokens.append((word.upper(), "", ""))
        else:
            raise QueryError(f"unexpected {word!r} at column {match.start(5) + 1}: "
                             "write field:value, AND, OR, NOT or parentheses")
    return tokens


def parse_query(text: str) -> Node:
    """Parse a query; NOT binds tighter than AND, AND tighter than OR."""
    tokens = _tokens(text)
    if not tokens:
        raise QueryError("empty query")
    node, rest = _parse_or(tokens, 0)
    if rest:
        raise QueryError(f"unexpected {rest[0][0]!r} after a complete query")
    return node


def _parse_or(tokens: list[tuple[str, str, str]],
              depth: int) -> tuple[Node, list[tuple[str, str, str]]]:
    left, tokens = _parse_and(tokens, depth)
    operands = [left]
    while tokens and tokens[0][0] == "OR":
        right, tokens = _parse_and(tokens[1:], depth)
        operands.append(right)
    return (operands[0] if len(operands) == 1 else Or(tuple(operands))), tokens


def _parse_and(tokens: list[tuple[str, str, str]],
               depth: int) -> tuple[Node, list[tuple[str, str, str]]]:
    left, tokens = _parse_unary(tokens, depth)
    operands = [left]
    while tokens and tokens[0][0] not in ("OR", ")"):
        if tokens[0][0] == "AND":
            tokens = tokens[1:]
        right, tokens = _parse_unary(tokens, depth)  # juxtaposition means AND
        operands.append(right)
    return (operands[0] if len(operands) == 1 else And(tuple(operands))), tokens


def _parse_unary(tokens: list[tuple[str, str, str]],
                 depth: int) -> tuple[Node, list[tuple[str, str, str]]]:
    if not tokens:
        raise QueryError("query ends where a term was expected")
    kind, field, value = tokens[0]
    if kind in ("NOT", "(") and depth == MAX_DEPTH:
        raise QueryError(f"query nested too deeply: at most {MAX_DEPTH} levels of "
                         "parentheses and NOT")
    if kind == "NOT":
        operand, rest = _parse_unary(tokens[1:], depth + 1)
        return Not(operand), rest
    if kind == "(":
        node, rest = _parse_or(tokens[1:], depth + 1)
        if not rest or rest[0][0] != ")":
            raise QueryError("missing closing parenthesis")
        return node, rest[1:]
    if kind == "term":
        return Term(field, value), tokens[1:]
    raise QueryError(f"expected a term, found {kind!r}")


def evaluate(node: Node, facts: Facts) -> bool:
    """True when the story's facts (field -> lower-cased values) satisfy the query."""
    match node:
        case Term(field, value):
            return value in facts.get(field, frozenset())
        case Not(operand):
            return not evaluate(operand, facts)
        case And(operands):
            return all(evaluate(operand, facts) for operand in operands)
        case Or(operands):
            return any(evaluate(operand, facts) for operand in operands)
    raise AssertionError(f"unknown query node {node!r}")  # pragma: no cover


def positive_terms(node: Node) -> list[Term]:
    """Terms that must be present for a match (used to explain why an alert fired)."""
    match node:
        case Term():
            return [node]
        case Not():
            return []
        case And(operands) | Or(operands):
            return [term for operand in operands for term in positive_terms(operand)]
    return []  # pragma: no cover


def triggers(node: Node) -> frozenset[tuple[str, str]] | None:
    """(field, value) pairs one of which must be present for the query to hold; None when
    no such set exists (a NOT, or an OR with such a branch): then always evaluate."""
    match node:
        case Term(field, value):
            return frozenset({(field, value)})
        case And(operands):
            found = [t for t in map(triggers, operands) if t is not None]
            return min(found, key=len) if found else None
        case Or(operands):
            union: set[tuple[str, str]] = set()
            for operand in operands:
                branch = triggers(operand)
                if branch is None:
                    return None
                union |= branch
            return frozenset(union)
    return None
