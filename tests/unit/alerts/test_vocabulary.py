"""Queries checked against the topic and entity ids in force: what can never fire is refused."""

from __future__ import annotations

import pytest
from wirewatch.alerts.errors import QueryError, SubscriptionError
from wirewatch.alerts.subscriptions import Subscription, check_terms
from wirewatch.alerts.vocabulary import Vocabulary, check_query

VOCABULARY = Vocabulary.of(
    ["ai-safety", "earnings", "leadership-change", "layoffs"],
    {"microsoft": ["Microsoft", "NASDAQ:MSFT"], "alphabet": ["Alphabet", "Google", "NASDAQ:GOOGL"],
     "openai": ["OpenAI"]})


@pytest.mark.parametrize("query", [
    "topic:earnings",
    "entity:openai AND (topic:leadership-change OR topic:layoffs)",
    "TOPIC:Earnings",  # fields and values are case-insensitive, as in matching
    'source:"Any Outlet" AND NOT entity:microsoft',  # sources are free: any outlet may appear
])
def test_queries_naming_known_ids_pass(query: str) -> None:
    check_query(query, VOCABULARY)


@pytest.mark.parametrize(("query", "message"), [
    ("topic:earning", "unknown topic 'earning' at column 1, so the query could never match: "
                      "not in the taxonomy (see wirewatch taxonomy list); did you mean "
                      "topic:earnings?"),
    ("entity:openai AND topic:leadership", "unknown topic 'leadership' at column 19"),
    ("entity:google", "did you mean entity:alphabet?"),  # an alias leads to its entity
    ("entity:msft", "did you mean entity:microsoft?"),  # so does a ticker, with or
    ("entity:nasdaq:msft", "did you mean entity:microsoft?"),  # without its exchange
    ("topic:semiconductors", "known: ai-safety, earnings, layoffs, leadership-change"),
])
def test_unknown_ids_are_refused_with_column_and_suggestions(query: str, message: str) -> None:
    with pytest.raises(QueryError) as raised:
        check_query(query, VOCABULARY)
    assert message in str(raised.value)


def test_a_negated_unknown_id_is_refused_too() -> None:
    # `NOT topic:typo` would always hold: almost certainly not what was meant
    with pytest.raises(QueryError, match="unknown topic 'typo' at column 23"):
        check_query("entity:openai AND NOT topic:typo", VOCABULARY)


def test_long_vocabularies_are_listed_in_part() -> None:
    many = Vocabulary.of([f"topic-{n:02d}" for n in range(30)], {})
    with pytest.raises(QueryError, match=r"topic-19 and 10 more$"):
        check_query("topic:zzz", many)


def test_check_terms_names_the_subscription() -> None:
    subscription = Subscription.create(name="Chips", owner="", query="topic:semiconductors")
    with pytest.raises(SubscriptionError, match="^subscription 'Chips': unknown topic"):
        check_terms([subscription], VOCABULARY)
