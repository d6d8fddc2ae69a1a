"""Discovery: unwatched people, organisations and places named in an article, with their type."""

from __future__ import annotations

import msgspec
import pytest
from wirewatch.streams.records import (
    Article,
    DiscoveredEntity,
    EntityTag,
    TaggedArticle,
    decode,
    encode,
)
from wirewatch.streams.tagging import Tagger, load_entities, load_topics
from wirewatch.streams.tagging.companies import load
from wirewatch.streams.tagging.discovery import MAX_DISCOVERED, Discoverer
from wirewatch.streams.tagging.files import Entity

# The seed story of issue 29 (tests/unit/streams/test_events.py carries it too).
SEED = ("OpenAI safety team leaders resign",
        "Two leaders of OpenAI's superalignment team, Jan Leike and Ilya Sutskever, resigned on "
        "Tuesday, the company said. Leike said on X that safety culture at OpenAI had taken a "
        "back seat to shiny products. OpenAI chief executive Sam Altman thanked both and said "
        "the company would keep investing in safety research.")


def named(found: list[DiscoveredEntity]) -> dict[str, str]:
    return {d.name: d.type for d in found}


def test_the_seed_article_names_the_two_researchers_nobody_watches() -> None:
    tags = Tagger.from_files().tag(*SEED)
    assert {e.id for e in tags.entities} == {"openai", "sam-altman"}
    people = {d.name: d for d in tags.discovered if d.type == "person"}
    assert set(people) == {"Jan Leike", "Ilya Sutskever"}
    assert people["Jan Leike"].mentions == 2  # "Leike said ...": the surname counts
    assert people["Jan Leike"].salience == 0.7  # in the lead
    # Watched names are the article's entities, never discovered again.
    assert not {"OpenAI", "Sam Altman"} & {d.name for d in tags.discovered}


@pytest.mark.parametrize(("body", "expected"), [
    pytest.param("Finance Minister Edouard Balladur said the figures were revised.",
                 {"Edouard Balladur": "person"}, id="capitalised-title-is-cut-off"),
    pytest.param("Growth slowed, said chief economist Maria Lopez on Monday.",
                 {"Maria Lopez": "person"}, id="lower-case-title-before"),
    pytest.param("The loan was confirmed by Mr. Okonkwo-Ade in a statement.",
                 {"Okonkwo-Ade": "person"}, id="honorific-single-name"),
    pytest.param("Widget Makers Holdings Inc agreed to buy Blue Fern Corp.",
                 {"Widget Makers Holdings Inc": "organization", "Blue Fern Corp": "organization"},
                 id="organisation-suffixes"),
    pytest.param("The Bank of England held rates, said Jane Roe of Harvard University.",
                 {"Bank of England": "organization", "Jane Roe": "person",
                  "Harvard University": "organization"}, id="of-joins-only-after-an-org-head"),
    pytest.param("Prices in New York and Hong Kong fell.",
                 {"New York": "place", "Hong Kong": "place"}, id="places"),
    pytest.param("Velo Torra will build a plant. Velo Torra said costs were high.",
                 {"Velo Torra": "other"}, id="no-evidence-kept-when-repeated"),
    pytest.param("Velo Torra will build a plant.", {}, id="no-evidence-said-once-is-dropped"),
    pytest.param("He met Oskar Brandt. Later Brandt said talks went well.",
                 {"Oskar Brandt": "person"}, id="surname-alone-later-means-person"),
])
def test_names_are_found_and_typed_by_their_evidence(body: str, expected: dict[str, str]) -> None:
    assert named(Discoverer([]).discover("", body)) == expected


def test_an_all_capitals_headline_is_not_read_for_names() -> None:
    found = Discoverer([]).discover("FED CHAIRMAN PAUL VOLCKER SAYS RATES STAY", "Rates stay.")
    assert found == []


def test_a_watched_alias_inside_a_name_covers_it() -> None:
    acme = Entity("acme", "Acme", "organization", ("Acme",))
    found = Discoverer([acme]).discover("", "Acme Widgets Inc and Jane Roe met in Boston.")
    assert named(found) == {"Jane Roe": "person"}


def test_salience_follows_the_title_lead_and_body() -> None:
    filler = " ".join(["word"] * 80)
    found = Discoverer([]).discover("Jane Roe resigns",
                                    f"Chief executive Jane Roe quit. {filler} Mr. Brandt spoke.")
    assert {d.name: d.salience for d in found} == {"Jane Roe": 1.0, "Brandt": 0.3}


def test_at_most_a_bounded_number_per_article() -> None:
    body = " ".join(f"Chief executive Jane {name} met Mr. {name}son." for name in (
        "Abbot Bexley Carrow Dunmore Elsworth Fenwick Garrow Hollis Ingram Jarrow Kendal "
        "Lowther Marlow Norbury Oakley Pellow").split())
    assert len(Discoverer([]).discover("", body)) == MAX_DISCOVERED


def test_a_listed_company_is_discovered_with_its_id_and_never_makes_it_watched() -> None:
    tags = Tagger.from_files().tag("Deutsche Bank shares fall",
                                   "Deutsche Bank AG said costs rose at its Frankfurt base.")
    assert tags.entities == []
    bank = [d for d in tags.discovered if d.company == "deutsche-bank"]
    assert bank == [DiscoveredEntity(name="Deutsche Bank", type="organization", mentions=2,
                                     salience=1.0, company="deutsche-bank")]
    # Its legal name is the company, not a second discovery.
    assert [d.name for d in tags.discovered] == ["Deutsche Bank"]


def test_a_watched_company_is_an_entity_not_a_discovery() -> None:
    watched = [*load_entities(), next(c for c in load() if c.id == "deutsche-bank").to_entity()]
    tags = Tagger(load_topics(), watched, companies=load()).tag(
        "Deutsche Bank shares fall", "Deutsche Bank AG said costs rose.")
    assert [e.id for e in tags.entities] == ["deutsche-bank"]
    assert tags.discovered == []


def test_an_ambiguous_company_name_alone_is_not_a_discovery() -> None:
    # "Target" is an ordinary word: the company needs its full name or ticker.
    tagger = Tagger.from_files()
    assert not tagger.tag("", "Target prices rose.").discovered
    found = tagger.tag("", "Target Corporation (NYSE: TGT) said Target sales rose.").discovered
    assert [(d.company, d.mentions) for d in found] == [("target", 3)]


def test_watched_tags_are_the_same_with_discovery_and_the_knowledge_base() -> None:
    plain = Tagger(load_topics(), load_entities(), discover=False)
    full = Tagger.from_files()
    for title, body in [SEED, ("Apple and Nvidia", "Apple Inc and Nvidia Corp rose; $AAPL up.")]:
        a, b = plain.tag(title, body), full.tag(title, body)
        assert (a.topics, a.entities, a.evidence) == (b.topics, b.entities, b.evidence)
        assert a.discovered == []


def test_discovered_is_an_optional_field_of_the_wire_record() -> None:
    article = msgspec.convert({
        "article_id": "a", "story_id": "s", "is_duplicate": False, "duplicate_of": None,
        "similarity": 0.0, "feed_id": "f", "source": "wire", "url": "https://x.example/a",
        "title": SEED[0], "text": SEED[1], "fetched_at": "2026-12-01T00:00:00Z"}, Article)
    tagged = TaggedArticle(article=article, topics=[], entities=[
        EntityTag(id="openai", name="OpenAI", type="organization", salience=1.0)],
        discovered=[DiscoveredEntity(name="Jan Leike", type="person", mentions=2, salience=0.7)])
    assert decode(encode(tagged), TaggedArticle) == tagged
    older = msgspec.json.decode(encode(tagged))
    del older["discovered"]  # a record written before discovery still reads
    assert decode(msgspec.json.encode(older), TaggedArticle).discovered == []
