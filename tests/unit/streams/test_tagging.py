"""Tagger: rule language, multi-pattern matching, topics with evidence, entities, salience."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from wirewatch.streams.tagging import RuleError, Tagger, TaxonomyError, load_entities, load_topics
from wirewatch.streams.tagging.files import Entity, write_watchlist
from wirewatch.streams.tagging.matcher import NATIVE_SCAN, Pattern, PhraseMatcher
from wirewatch.streams.tagging.reload import TaggerSource
from wirewatch.streams.tagging.rules import And, Near, Not, Or, Term, parse_rule
from wirewatch.streams.tagging.text import LEAD_TOKENS, fold, words_of


def tagger_from(tmp_path: Path, topics: str = "", entities: str = "") -> Tagger:
    taxonomy, watchlist = tmp_path / "taxonomy.yaml", tmp_path / "watchlist.yaml"
    taxonomy.write_text(topics or "extends_defaults: false\ntopics: []\n", encoding="utf-8")
    watchlist.write_text(entities or "extends_defaults: false\nentities: []\n", encoding="utf-8")
    return Tagger.from_files([taxonomy], [watchlist])


# --- the rule language ------------------------------------------------------------------

def test_rules_parse_to_the_documented_tree() -> None:
    assert parse_rule('"net income" OR title:profit NOT forecast') == Or((
        Term(("net", "income")),
        And((Term(("profit",), scope="title"), Not(Term(("forecast",)))))))
    assert parse_rule("(resigns OR quits) NEAR/8 chair*") == Near(
        Or((Term(("resigns",)), Term(("quits",)))), Term(("chair",), prefix=True), 8)
    assert parse_rule("lead:(Société Générale)") == And((
        Term(("societe",), scope="lead"), Term(("generale",), scope="lead")))


@pytest.mark.parametrize(("rule", "message"), [
    ("", "empty rule"),
    ("(a OR b", "missing"),
    ("a OR", "ends where a term was expected"),
    ('"open', "unterminated quote"),
    ("a NEAR b", "NEAR/n"),
    ("a NEAR/0 b", "use 1 to 50"),
    ("a NEAR/3 NOT b", "not NOT"),
    ("where:x", "unknown scope"),
    ("ac*me", "only a word's end"),
    ("ab*", "too short"),
    ("a )", "unexpected"),
])
def test_bad_rules_say_what_and_where(rule: str, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        parse_rule(rule)


# --- matching ---------------------------------------------------------------------------

SCANS = [pytest.param(False, id="pure"), pytest.param(
    True, id="native", marks=pytest.mark.skipif(not NATIVE_SCAN, reason="native scan not built"))]


@pytest.mark.parametrize("native", SCANS)
def test_matcher_finds_words_pairs_phrases_and_prefixes(native: bool) -> None:
    patterns = [Pattern(("net",)), Pattern(("net", "income")), Pattern(("acqui",), True),
                Pattern(("chief", "exec"), True), Pattern(("tender", "offer", "for"))]
    matcher = PhraseMatcher(patterns, positional=range(len(patterns)), native=native)
    tokens = words_of("Net income rose; it acquired Widget and a chief executive made a "
                      "tender offer for Acme. Net net.")
    assert matcher.present(tokens) == {0, 1, 2, 3, 4}
    assert matcher.occurrences(tokens, 0) == [(0, 1), (16, 17), (17, 18)]
    assert matcher.occurrences(tokens, 3) == [(8, 10)]
    assert matcher.occurrences(tokens, 2) == [(4, 5)]
    assert matcher.present(words_of("the tender is an offer")) == set()


def test_words_fold_case_diacritics_and_punctuation() -> None:
    assert fold("Société Générale ﬁnance") == "Societe Generale finance"
    assert words_of("(NASDAQ: MSFT) and $MSFT, co-founder's") == [
        "nasdaq", "msft", "and", "$msft", "co", "founder", "s"]


# --- topics ---------------------------------------------------------------------------

TOPICS = """
extends_defaults: false
topics:
  - id: deals
    threshold: 2
    rules:
      - {match: 'acquir* OR merger', weight: 2}
      - {match: 'title:stake', weight: 1}
      - {match: 'body:"pct of"', weight: 1}
      - {match: 'tonnes OR wheat', weight: -2}
    exclude: 'title:denies'
  - id: exits
    rules: ['(resign* OR "steps down") NEAR/5 (ceo OR "chief executive")']
  - id: early
    rules: ['lead:recall']
"""


@pytest.mark.parametrize(("title", "body", "expected"), [
    ("Acme acquires Widget", "The deal closed.", ["deals"]),
    ("Acme takes stake", "It bought 9 pct of Widget.", ["deals"]),  # 1 + 1 reaches 2
    ("Acme takes stake", "Nothing else.", []),  # 1 is below the threshold
    ("Trader acquires wheat", "40,000 tonnes.", []),  # negative context
    ("Acme denies merger talk", "No merger.", []),  # excluded
    ("News", "The chief executive, Jane Roe, resigned on Friday.", ["exits"]),
    ("News", "Jane Roe resigned. " + "filler " * 10 + "She was never the CEO.", []),
    ("News", "Recall of 10,000 cars.", ["early"]),
    ("News", "filler " * LEAD_TOKENS + "recall of cars", []),
])
def test_topics_fire_on_weights_threshold_scope_and_proximity(
        tmp_path: Path, title: str, body: str, expected: list[str]) -> None:
    assert tagger_from(tmp_path, TOPICS).tag(title, body).topics == expected


def test_topic_evidence_names_terms_fields_and_snippets(tmp_path: Path) -> None:
    tags = tagger_from(tmp_path, TOPICS).tag(
        "Acme takes stake", "After months of talks Acme bought 9 pct of Widget on Monday.")
    evidence = tags.evidence["deals"]
    assert [(e.term, e.field) for e in evidence] == [("stake", "title"), ("pct of", "body")]
    assert "bought 9 pct of Widget" in evidence[1].snippet


def test_keywords_are_shorthand_for_one_rule(tmp_path: Path) -> None:
    tagger = tagger_from(tmp_path, "extends_defaults: false\ntopics:\n"
                                   "  - {id: ai, keywords: [AI, machine learning]}\n")
    assert tagger.tag("AI news", "").topics == ["ai"]
    assert tagger.tag("Rain news", "Said said.").topics == []  # "ai" inside a word: no


# --- entities -------------------------------------------------------------------------

ENTITIES = """
extends_defaults: false
entities:
  - {id: microsoft, name: Microsoft, aliases: [Microsoft, Microsoft Corp],
     tickers: ["NASDAQ:MSFT"]}
  - {id: apple, name: Apple, aliases: [Apple Inc], ambiguous_aliases: [Apple],
     tickers: ["NASDAQ:AAPL"], context: [iPhone, Tim Cook]}
  - {id: soc-gen, name: Société Générale, aliases: [Société Générale, SocGen]}
  - {id: jane-roe, name: Jane Roe, type: person}
"""


@pytest.mark.parametrize(("title", "body", "expected"), [
    ("Shares rise (NASDAQ: MSFT)", "", ["microsoft"]),
    ("Shares rise", "Traders bought $MSFT.", ["microsoft"]),
    ("Shares rise", "NASDAQ:MSFT up.", ["microsoft"]),
    ("Apple pie recipes", "Bake the apple pie.", []),  # ambiguous without context
    ("Apple unveils iPhone", "", ["apple"]),  # context confirms
    ("apple unveils iphone", "", []),  # not written as a proper noun
    ("Apple results", "Apple Inc. reported.", ["apple"]),  # the unambiguous alias
    ("Banks", "SOCIETE GENERALE and Societe Generale", ["soc-gen"]),
    ("Jane Roe appointed", "", ["jane-roe"]),
    ("Microsoftie blog", "", []),  # word boundaries
])
def test_entities_by_alias_ticker_context_and_case(
        tmp_path: Path, title: str, body: str, expected: list[str]) -> None:
    tags = tagger_from(tmp_path, entities=ENTITIES).tag(title, body)
    assert [entity.id for entity in tags.entities] == expected


@pytest.mark.parametrize(("title", "body", "salience", "where"), [
    ("Microsoft news", "", 1.0, "title"),
    ("News", "Microsoft said on Monday.", 0.7, "lead"),
    ("News", "word " * LEAD_TOKENS + "Microsoft.", 0.3, "body"),
    ("News", "word " * LEAD_TOKENS + "Microsoft and Microsoft Corp.", 0.4, "body"),
])
def test_salience(tmp_path: Path, title: str, body: str, salience: float, where: str) -> None:
    (entity,) = tagger_from(tmp_path, entities=ENTITIES).tag(title, body).entities
    assert (entity.salience, entity.where) == (salience, where)


def test_entity_evidence(tmp_path: Path) -> None:
    tags = tagger_from(tmp_path, entities=ENTITIES).tag("Why Microsoft fell", "")
    assert tags.evidence["entity:microsoft"][0].snippet == "Why Microsoft fell"


# --- shipped defaults ---------------------------------------------------------------

def test_shipped_defaults() -> None:
    tagger = Tagger.from_files()
    assert {t.id for t in tagger.topics} == {
        "ai-safety", "leadership-change", "mergers-acquisitions", "earnings", "layoffs",
        "regulation", "litigation", "funding", "security-incident", "product-launch"}
    tags = tagger.tag("Microsoft agrees to acquire Widget Works in $2 bln deal",
                      "Microsoft Corp said on Monday it agreed to acquire Widget Works.")
    assert "mergers-acquisitions" in tags.topics
    assert tags.entities[0].id == "microsoft"
    earnings = tagger.tag("Acme quarterly results beat estimates",
                          "Acme reported earnings per share of $1.10 for the quarter.")
    assert "earnings" in earnings.topics


# --- files ----------------------------------------------------------------------------

def test_user_files_extend_replace_and_disable_defaults(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("topics:\n  - {id: earnings, enabled: false}\n"
                    "  - {id: layoffs, keywords: [furlough]}\n"
                    "  - {id: space, keywords: [rocket]}\n", encoding="utf-8")
    topics = {topic.id: topic for topic in load_topics([path])}
    assert "earnings" not in topics and "space" in topics and "funding" in topics
    assert topics["layoffs"].rules[0].source == '"furlough"'


@pytest.mark.parametrize(("document", "message"), [
    ("topics: 3", "needs a top-level 'topics:' list"),
    ("topics:\n  - {name: x}", "needs an 'id'"),
    ("topics:\n  - {id: x}", "needs 'rules'"),
    ("topics:\n  - {id: x, rules: ['a OR']}", "rule 'a OR'"),
    ("topics:\n  - {id: x, rules: [{match: a, weight: big}]}", "weight must be a number"),
    ("topics:\n  - {id: x, rules: [{match: a, weight: -1}]}", "positive weight"),
    ("topics:\n  - {id: x, threshold: 0, rules: [a]}", "threshold"),
    ("topics:\n  - {id: x, rules: [a]}\n  - {id: x, rules: [b]}", "appears twice"),
    ("topics: [\n", "not valid YAML"),
])
def test_bad_taxonomy_files(tmp_path: Path, document: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(document, encoding="utf-8")
    with pytest.raises(TaxonomyError, match=message):
        load_topics([path])


@pytest.mark.parametrize(("document", "message"), [
    ("entities:\n  - {id: x, type: planet}", "type must be one of"),
    ("entities:\n  - {id: x, aliases: ['!!']}", "no letters or digits"),
    ("entities:\n  - {id: x, aliases: 3}", "must be a list of strings"),
])
def test_bad_watchlist_files(tmp_path: Path, document: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(document, encoding="utf-8")
    with pytest.raises(TaxonomyError, match=message):
        load_entities([path])


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match="cannot read"):
        load_topics([tmp_path / "absent.yaml"])


# --- reloading ----------------------------------------------------------------------

def test_tagger_source_reloads_changed_files_and_keeps_the_last_good_rules(
        tmp_path: Path) -> None:
    now = [0.0]
    watchlist = tmp_path / "watchlist.yaml"
    source = TaggerSource([tmp_path / "taxonomy.yaml"], [watchlist], check_seconds=5,
                          clock=lambda: now[0])
    assert "zeta" not in source.current().entities  # no user file yet: the defaults
    write_watchlist(watchlist, [Entity("zeta", "Zeta", "organization", ("Zeta Corp",))],
                    extends_defaults=True)
    assert "zeta" not in source.current().entities  # not checked again before 5 s
    now[0] = 6.0
    assert "zeta" in source.current().entities and source.reloads == 1
    watchlist.write_text("entities: [\n", encoding="utf-8")
    os.utime(watchlist, ns=(1, 1))  # a new stamp even within the clock's resolution
    now[0] = 12.0
    assert "zeta" in source.current().entities  # broken file: the last good tagger stays
    assert source.reload_errors == 1 and "not valid YAML" in (source.last_error or "")


def test_tagger_source_refuses_to_start_on_broken_rules(tmp_path: Path) -> None:
    taxonomy = tmp_path / "taxonomy.yaml"
    taxonomy.write_text("topics:\n  - {id: x, rules: ['(a']}\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="missing"):
        TaggerSource([taxonomy], [])


def test_a_repeated_text_is_tagged_once_and_callers_cannot_spoil_the_memo() -> None:
    tagger = Tagger.from_files()
    title = "Microsoft quarterly profit beats estimates"
    body = "Microsoft Corp reported quarterly earnings that beat estimates; net income rose."
    first = tagger.tag(title, body)
    first.topics.append("spoiled")
    first.evidence.clear()
    second = tagger.tag(title, body)
    assert "spoiled" not in second.topics and second.evidence
    assert second == Tagger.from_files().tag(title, body)
    assert tagger._memo.cache_info().hits == 1
