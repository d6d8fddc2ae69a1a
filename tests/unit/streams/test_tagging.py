"""Tagger: topics by keyword, entities by alias and ticker, salience, and file validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.records import EntityTag
from streams.tagging import LEAD_CHARS, Tagger, TaxonomyError, load_entities, load_topics

DEFAULTS = Path(__file__).resolve().parents[3] / "streams" / "defaults"


@pytest.fixture(scope="module")
def shipped() -> Tagger:
    return Tagger.from_files(DEFAULTS / "taxonomy.yaml", DEFAULTS / "watchlist.yaml")


def make_tagger(tmp_path: Path, topics: str, entities: str) -> Tagger:
    (tmp_path / "taxonomy.yaml").write_text(topics, encoding="utf-8")
    (tmp_path / "watchlist.yaml").write_text(entities, encoding="utf-8")
    return Tagger.from_files(tmp_path / "taxonomy.yaml", tmp_path / "watchlist.yaml")


SMALL_TOPICS = """
topics:
  - {id: deals, name: Deals, keywords: [acquired, "agreed to buy", merger]}
  - {id: ai, keywords: [AI]}
"""
SMALL_ENTITIES = """
entities:
  - {id: acme, name: Acme Corp, aliases: [Acme, "Acme Corp"], tickers: ["NYSE:ACME"]}
  - {id: zed, name: Zed, type: person}
  - {id: bare}
  - {id: tick, name: Tick, aliases: [Tickco], tickers: [TCK]}
"""


@pytest.fixture
def small(tmp_path: Path) -> Tagger:
    return make_tagger(tmp_path, SMALL_TOPICS, SMALL_ENTITIES)


def test_shipped_defaults_load(shipped: Tagger) -> None:
    assert {t.id for t in shipped.topics} >= {"earnings", "leadership-change", "layoffs",
                                               "mergers-acquisitions", "ai-safety"}
    assert set(shipped.entities) == {"openai", "anthropic", "microsoft", "alphabet", "nvidia",
                                     "sam-altman"}


@pytest.mark.parametrize(("title", "body", "topic", "evidence"), [
    ("OpenAI names new CEO", "", "leadership-change", ["title: names new"]),
    ("", "The chief executive stepped down on Friday.", "leadership-change",
     ["body: stepped down"]),
    ("Microsoft quarterly profit rose", "Net income rose.", "earnings",
     ["title: quarterly profit", "body: Net income"]),
    ("", "Acme  agreed\nto buy Zed", "mergers-acquisitions", ["body: agreed\nto buy"]),
    ("LAYOFFS at Nvidia", "", "layoffs", ["title: LAYOFFS"]),
])
def test_shipped_topics_with_evidence(
        shipped: Tagger, title: str, body: str, topic: str, evidence: list[str]) -> None:
    tags = shipped.tag(title, body)
    assert topic in tags.topics
    assert tags.evidence[topic] == evidence


@pytest.mark.parametrize(("text", "found"), [
    ("Acme acquired Zed", True),
    ("Acme acquired, then sold", True),
    ("(acquired)", True),
    ("Acme reacquired Zed", False),  # no match inside a longer word
    ("Acme acquiredness", False),
    ("the AI lab", True),
    ("the AIs", False),
    ("said", False),
    ("a_ai", False),  # underscore is a word character
    ("merger-arbitrage", True),  # hyphen is not
])
def test_keywords_match_whole_words(small: Tagger, text: str, found: bool) -> None:
    topics = small.tag("", text).topics
    expected = "deals" if "acquire" in text or "merger" in text else "ai"
    assert (expected in topics) is found


def test_topic_evidence_is_capped_at_five(small: Tagger) -> None:
    tags = small.tag("acquired", " ".join(["merger"] * 10))
    assert tags.evidence["deals"] == ["title: acquired"] + ["body: merger"] * 4


def test_no_tags(small: Tagger) -> None:
    tags = small.tag("Weather", "Sunny all week.")
    assert (tags.topics, tags.entities, tags.evidence) == ([], [], {})


@pytest.mark.parametrize(("title", "entity"), [
    ("Microsoft earnings", "microsoft"),
    ("MICROSOFT earnings", "microsoft"),
    ("microsoft earnings", "microsoft"),
    ("Open AI and Anthropic", "openai"),
    ("open ai", "openai"),
    ("Google", "alphabet"),
    ("Sam Altman returns", "sam-altman"),
    ("Altman returns", "sam-altman"),
    ("Shares of NASDAQ:MSFT rose", "microsoft"),
    ("Microsoft (NASDAQ: MSFT) rose", "microsoft"),
    ("Shares (NASDAQ: MSFT) rose", "microsoft"),
    ("NASDAQ MSFT", "microsoft"),
    ("$MSFT up", "microsoft"),
    ("$MSFT.", "microsoft"),
    ("$NVDA rallies", "nvidia"),
    ("$GOOG and $GOOGL", "alphabet"),
])
def test_shipped_entities_found(shipped: Tagger, title: str, entity: str) -> None:
    assert entity in [e.id for e in shipped.tag(title, "").entities]


@pytest.mark.parametrize("title", [
    "$MSFTX rallies",
    "MSFT rallies",  # a bare symbol is not a ticker shape
    "Microsofts",
    "Googleplex",
    "OpenAIs",
    "NASDAQ:MSFTX",
])
def test_shipped_entities_not_found(shipped: Tagger, title: str) -> None:
    assert shipped.tag(title, "").entities == []


@pytest.mark.parametrize(("title", "body", "salience"), [
    ("Acme wins", "", 1.0),
    ("", "Acme wins", 0.7),
    ("", "x" * (LEAD_CHARS - 5) + " Acme", 0.7),
    ("", "x" * LEAD_CHARS + " Acme", 0.3),
    ("", "Acme at the start and " + "x" * LEAD_CHARS + " Acme later", 0.7),
    ("Acme", "x" * LEAD_CHARS + " Acme", 1.0),  # the best place counts
    ("", "x" * LEAD_CHARS + " $ACME and NYSE: ACME", 0.3),
])
def test_salience(small: Tagger, title: str, body: str, salience: float) -> None:
    (tag,) = small.tag(title, body).entities
    assert tag == EntityTag(id="acme", name="Acme Corp", type="organization",
                            salience=salience)


def test_entity_evidence_and_order(small: Tagger) -> None:
    tags = small.tag("Zed and acme corp", "Later $ACME and NYSE:ACME; $TCK and Tickco.")
    assert [e.id for e in tags.entities] == ["acme", "tick", "zed"]  # sorted by id
    assert tags.evidence["entity:acme"] == ["title: acme corp", "body: $ACME", "body: NYSE:ACME"]
    assert tags.evidence["entity:tick"] == ["body: $TCK", "body: Tickco"]
    assert tags.entities[2] == EntityTag(id="zed", name="Zed", type="person", salience=1.0)


def test_entity_without_aliases_uses_its_name_then_its_id(small: Tagger) -> None:
    assert small.entities["zed"].aliases == ("Zed",)
    assert small.entities["bare"].aliases == ("bare",)
    assert [e.id for e in small.tag("None of this is bare", "").entities] == ["bare"]


def test_tagger_without_entities(tmp_path: Path) -> None:
    tagger = make_tagger(tmp_path, SMALL_TOPICS, "entities: []\n")
    assert tagger.tag("Acme acquired", "").entities == []


@pytest.mark.parametrize(("topics", "message"), [
    (None, "cannot read"),
    ("topics: [unclosed\n", "is not valid YAML"),
    ("", "needs a top-level 'topics:' list"),
    ("topic:\n  - {id: a, keywords: [x]}\n", "needs a top-level 'topics:' list"),
    ("topics: [just-a-string]\n", "needs a top-level 'topics:' list of mappings"),
    ("topics:\n  - {keywords: [x]}\n", "topic needs an 'id'"),
    ("topics:\n  - {id: a}\n", "non-empty 'keywords' list"),
    ("topics:\n  - {id: a, keywords: []}\n", "non-empty 'keywords' list"),
    ("topics:\n  - {id: a, keywords: x}\n", "non-empty 'keywords' list"),
    ("topics:\n  - {id: a, keywords: ['', '  ']}\n", "non-empty 'keywords' list"),
])
def test_bad_taxonomy_files(tmp_path: Path, topics: str | None, message: str) -> None:
    path = tmp_path / "taxonomy.yaml"
    if topics is not None:
        path.write_text(topics, encoding="utf-8")
    with pytest.raises(TaxonomyError, match=message) as caught:
        load_topics(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(("entities", "message"), [
    (None, "cannot read"),
    ("entities: {id: x}\n", "needs a top-level 'entities:' list"),
    ("entities:\n  - {name: X}\n", "every entity needs an 'id'"),
    ("entities:\n  - {id: 3}\n", "every entity needs an 'id'"),
])
def test_bad_watchlist_files(tmp_path: Path, entities: str | None, message: str) -> None:
    path = tmp_path / "watchlist.yaml"
    if entities is not None:
        path.write_text(entities, encoding="utf-8")
    with pytest.raises(TaxonomyError, match=message):
        load_entities(path)


def test_blank_aliases_fall_back_to_the_name(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_text("entities:\n  - {id: x, name: Xylo, aliases: ['', ' ']}\n", encoding="utf-8")
    assert load_entities(path)[0].aliases == ("Xylo",)
