"""Subscription queries: `entity:openai AND (topic:earnings OR topic:layoffs) AND NOT source:x`
(and `lang:de`, the article's language)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from wirewatch.alerts.errors import QueryError

FIELDS = frozenset({"entity", "topic", "source", "lang"})
# Parentheses and NOTs nested deeper than this are refused: the parser and `evaluate`
# recurse once per level, and a query accepted here must still evaluate deep inside the
# stream worker's call stack (1,000 NOTs parsed, then overflowed the worker's stack).
MAX_DEPTH = 50
_TOKEN = re.compile(r'\s*(?:(\()|(\))|([A-Za-z_]+):("(?:[^"\\]|\\.)*"|[^\s()]+)|(\S+))')
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
# NUL and the other control characters (tab and line breaks are whitespace), and the bidi
# embeddings, overrides and isolates: these make a name or a query display as something
# other than what it is ("Trojan Source"), in the pages, the CLI and the alerts.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def forbidden_character(text: str) -> str | None:
    """Why `text` cannot be used as a name or query ("U+202E at column 4"), or None."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    character = found.group()
    name = unicodedata.name(character, "control character")
    return f"{name} (U+{ord(character):04X}) at column {found.start() + 1}"


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


class _Token(NamedTuple):
    kind: str  # "(", ")", "term", "AND", "OR" or "NOT"
    field: str
    value: str
    column: int  # 1-based, where the token starts: every error names one


def _tokens(text: str) -> list[_Token]:
    problem = forbidden_character(text)
    if problem:
        raise QueryError(f"{problem} is not allowed in a query")
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:  # only trailing whitespace is left
            break
        position = match.end()
        opening, closing, field, value, word = match.groups()
        column = match.start(match.lastindex or 0) + 1
        if opening:
            tokens.append(_Token("(", "", "", column))
        elif closing:
            tokens.append(_Token(")", "", "", column))
        elif field:
            column = match.start(3) + 1
            if field.lower() not in FIELDS:
                raise QueryError(f"unknown field {field!r} at column {column}; use one of "
                                 f"{sorted(FIELDS)}")
            if value.startswith('"'):
                if not _QUOTED.fullmatch(value):
                    raise QueryError(f"unterminated quote in {field}:{value} at column "
                                     f"{match.start(4) + 1}")
                value = value[1:-1].replace('\\"', '"')
            tokens.append(_Token("term", field.lower(), value.lower(), column))
        elif word.upper() in ("AND", "OR", "NOT"):
            tokens.append(_Token(word.upper(), "", "", column))
        else:
            raise QueryError(f"unexpected {word!r} at column {column}: "
                             "write field:value, AND, OR, NOT or parentheses")
    return tokens


def parse_query(text: str) -> Node:
    """Parse a query; NOT binds tighter than AND, AND tighter than OR."""
    return _parsed(text, _tokens(text))


def _parsed(text: str, tokens: list[_Token]) -> Node:
    if not tokens:
        raise QueryError("empty query at column 1: write field:value, e.g. topic:earnings")
    node, rest = _Parser(len(text) + 1).parse_or(tokens, 0)
    if rest:
        raise QueryError(f"unexpected {rest[0].kind!r} at column {rest[0].column} after a "
                         "complete query")
    return node


def query_terms(text: str) -> list[tuple[Term, int]]:
    """Every field:value term of a valid query with its column (for checking the values)."""
    tokens = _tokens(text)
    _parsed(text, tokens)
    return [(Term(t.field, t.value), t.column) for t in tokens if t.kind == "term"]


@dataclass(frozen=True)
class _Parser:
    end_column: int  # the column just past the text, where a missing term was expected

    def parse_or(self, tokens: list[_Token], depth: int) -> tuple[Node, list[_Token]]:
        left, tokens = self.parse_and(tokens, depth)
        operands = [left]
        while tokens and tokens[0].kind == "OR":
            right, tokens = self.parse_and(tokens[1:], depth)
            operands.append(right)
        return (operands[0] if len(operands) == 1 else Or(tuple(operands))), tokens

    def parse_and(self, tokens: list[_Token], depth: int) -> tuple[Node, list[_Token]]:
        left, tokens = self.parse_unary(tokens, depth)
        operands = [left]
        while tokens and tokens[0].kind not in ("OR", ")"):
            if tokens[0].kind == "AND":
                tokens = tokens[1:]
            right, tokens = self.parse_unary(tokens, depth)  # juxtaposition means AND
            operands.append(right)
        return (operands[0] if len(operands) == 1 else And(tuple(operands))), tokens

    def parse_unary(self, tokens: list[_Token], depth: int) -> tuple[Node, list[_Token]]:
        if not tokens:
            raise QueryError(f"query ends where a term was expected, at column "
                             f"{self.end_column}")
        token = tokens[0]
        if token.kind in ("NOT", "(") and depth == MAX_DEPTH:
            raise QueryError(f"query nested too deeply at column {token.column}: at most "
                             f"{MAX_DEPTH} levels of parentheses and NOT")
        if token.kind == "NOT":
            operand, rest = self.parse_unary(tokens[1:], depth + 1)
            return Not(operand), rest
        if token.kind == "(":
            node, rest = self.parse_or(tokens[1:], depth + 1)
            if not rest or rest[0].kind != ")":
                raise QueryError(f"missing closing parenthesis for the one at column "
                                 f"{token.column}")
            return node, rest[1:]
        if token.kind == "term":
            return Term(token.field, token.value), tokens[1:]
        raise QueryError(f"expected a term, found {token.kind!r} at column {token.column}")


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
