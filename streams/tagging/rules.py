"""The topic rule language: phrases, AND/OR/NOT, NEAR/n and field scopes, parsed to a tree.

    "net income" OR (title:profit AND NOT forecast)
    (resigns OR "steps down" OR appointed) NEAR/8 (ceo OR "chief executive" OR chair*)

A bare word is one term, a quoted string a phrase, a trailing * a prefix (acqui*). Words
side by side mean AND. NOT binds tightest, then NEAR/n, then AND, then OR. A scope
(title:, body:, lead:) limits the terms inside it to that part of the article; lead is the
body's first words. Matching ignores case and diacritics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wirewatch.streams.tagging.text import words_of

SCOPES = frozenset({"title", "body", "lead", "any"})
MAX_NEAR = 50
# Parentheses, NOTs and scopes nested deeper are refused: parsing and matching recurse once
# per level, and a rule file must not be able to overflow the worker's stack.
MAX_DEPTH = 50


class RuleError(ValueError):
    """A rule that does not parse, with the column where it went wrong."""


@dataclass(frozen=True)
class Term:
    """A word or phrase; `prefix` when its last word ends with *."""

    words: tuple[str, ...]
    prefix: bool = False
    scope: str = "any"

    @property
    def text(self) -> str:
        return " ".join(self.words) + ("*" if self.prefix else "")


@dataclass(frozen=True)
class Not:
    operand: Rule


@dataclass(frozen=True)
class And:
    operands: tuple[Rule, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Rule, ...]


@dataclass(frozen=True)
class Near:
    left: Rule
    right: Rule
    distance: int


Rule = Term | Not | And | Or | Near

_LEXEME = re.compile(r"""\s*(?:
    (?P<open>\() | (?P<close>\)) |
    (?P<near>NEAR/(?P<distance>\d+)) |
    (?P<scope>[A-Za-z]+):(?=\S) |
    "(?P<phrase>[^"]*)"(?P<phrase_star>\*)? |
    (?P<unclosed>") |
    (?P<word>[^\s()"]+)
)""", re.VERBOSE)

Lexeme = tuple[str, str, int]  # kind, value, column


def _lexemes(source: str) -> list[Lexeme]:
    lexemes: list[Lexeme] = []
    position = 0
    while position < len(source):
        match = _LEXEME.match(source, position)
        if match is None or match.end() == position:
            break  # only whitespace is left
        position = match.end()
        column = match.start(match.lastgroup or 0) + 1
        if match["open"]:
            lexemes.append(("(", "", column))
        elif match["close"]:
            lexemes.append((")", "", column))
        elif match["near"]:
            lexemes.append(("NEAR", match["distance"], column))
        elif match["scope"]:
            scope = match["scope"].lower()
            if scope not in SCOPES:
                raise RuleError(f"unknown scope {match['scope']!r}: at column {column}; "
                                f"use one of {sorted(SCOPES)}")
            lexemes.append(("scope", scope, column))
        elif match["unclosed"]:
            raise RuleError(f"unterminated quote at column {column}")
        elif match["phrase"] is not None:
            lexemes.append(("phrase", match["phrase"] + (match["phrase_star"] or ""), column))
        elif match["word"].upper() in ("AND", "OR", "NOT"):
            lexemes.append((match["word"].upper(), "", column))
        elif match["word"].upper() == "NEAR" or match["word"].upper().startswith("NEAR/"):
            raise RuleError(f"write NEAR/n (e.g. NEAR/5) at column {column}")
        else:
            lexemes.append(("phrase", match["word"], column))
    return lexemes


def _term(text: str, column: int, scope: str) -> Term:
    prefix = text.endswith("*")
    if "*" in text.rstrip("*"):
        raise RuleError(f"* in {text!r} at column {column}: only a word's end can be a prefix")
    words = tuple(words_of(text.rstrip("*")))
    if not words:
        raise RuleError(f"empty term at column {column}")
    if prefix and len(words[-1]) < 3:
        raise RuleError(f"prefix {text!r} at column {column} is too short (3 letters at least)")
    return Term(words, prefix, scope)


class _Parser:
    def __init__(self, source: str) -> None:
        self.lexemes = _lexemes(source)
        self.position = 0
        self.depth = 0  # parentheses, NOTs and scopes open around the current term

    def peek(self) -> str | None:
        return self.lexemes[self.position][0] if self.position < len(self.lexemes) else None

    def take(self) -> Lexeme:
        lexeme = self.lexemes[self.position]
        self.position += 1
        return lexeme

    def parse(self) -> Rule:
        if not self.lexemes:
            raise RuleError("empty rule")
        rule = self.parse_or("any")
        if self.peek() is not None:
            kind, value, column = self.take()
            raise RuleError(f"unexpected {value or kind!r} at column {column}")
        return rule

    def parse_or(self, scope: str) -> Rule:
        operands = [self.parse_and(scope)]
        while self.peek() == "OR":
            self.take()
            operands.append(self.parse_and(scope))
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def parse_and(self, scope: str) -> Rule:
        operands = [self.parse_near(scope)]
        while self.peek() not in (None, "OR", ")"):
            if self.peek() == "AND":
                self.take()
            operands.append(self.parse_near(scope))
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def parse_near(self, scope: str) -> Rule:
        left = self.parse_unary(scope)
        while self.peek() == "NEAR":
            _, distance, column = self.take()
            right = self.parse_unary(scope)
            if len(distance) > 3 or not 0 < int(distance) <= MAX_NEAR:
                raise RuleError(f"NEAR/{distance} at column {column}: use 1 to {MAX_NEAR}")
            if _has_not(left) or _has_not(right):
                raise RuleError(f"NEAR at column {column} needs terms on both sides, not NOT")
            left = Near(left, right, int(distance))
        return left

    def parse_unary(self, scope: str) -> Rule:
        if self.peek() is None:
            raise RuleError("rule ends where a term was expected")
        kind, value, column = self.take()
        if kind in ("NOT", "scope", "("):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise RuleError(f"nested more than {MAX_DEPTH} deep at column {column}")
            try:
                return self.parse_nested(kind, value, column, scope)
            finally:
                self.depth -= 1
        if kind == "phrase":
            return _term(value, column, scope)
        raise RuleError(f"expected a term at column {column}, found {value or kind!r}")


    def parse_nested(self, kind: str, value: str, column: int, scope: str) -> Rule:
        if kind == "NOT":
            return Not(self.parse_unary(scope))
        if kind == "scope":
            return self.parse_unary(value)
        rule = self.parse_or(scope)
        if self.peek() != ")":
            raise RuleError(f"missing ')' for the '(' at column {column}")
        self.take()
        return rule


def _has_not(rule: Rule) -> bool:
    if isinstance(rule, Not):
        return True
    if isinstance(rule, And | Or):
        return any(_has_not(operand) for operand in rule.operands)
    if isinstance(rule, Near):
        return _has_not(rule.left) or _has_not(rule.right)
    return False


def parse_rule(source: str) -> Rule:
    """Parse one rule; RuleError says what is wrong and where."""
    return _Parser(source).parse()


def terms(rule: Rule) -> list[Term]:
    """Every term in a rule, in order."""
    if isinstance(rule, Term):
        return [rule]
    if isinstance(rule, Not):
        return terms(rule.operand)
    if isinstance(rule, Near):
        return terms(rule.left) + terms(rule.right)
    return [term for operand in rule.operands for term in terms(operand)]
