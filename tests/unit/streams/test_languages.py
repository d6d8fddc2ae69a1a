"""Languages: each article's language is recognised once, recorded on the article and on
the dashboard, and `lang:` in a query matches it (and refuses codes that can never fire)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis
from wirewatch.alerts.errors import QueryError
from wirewatch.alerts.languages import LANGUAGES, UNKNOWN
from wirewatch.alerts.matching import StoryView, matches
from wirewatch.alerts.outbox import Outbox
from wirewatch.alerts.state import SentStore
from wirewatch.alerts.store import LiveSubscriptions, SubscriptionStore
from wirewatch.alerts.subscriptions import Subscription
from wirewatch.alerts.vocabulary import Vocabulary, check_query
from wirewatch.connectors.records import RawItem
from wirewatch.streams.app import pipeline_steps, run_batch
from wirewatch.streams.dedupe.service import StoryAssigner
from wirewatch.streams.dedupe.sketch import SKETCH_SIZE, sketch
from wirewatch.streams.dedupe.stories import StoryStore
from wirewatch.streams.events import language
from wirewatch.streams.events.profile import MAX_TERMS, build_profiles, language_of
from wirewatch.streams.events.service import EventAssigner
from wirewatch.streams.ops.activity import Activity
from wirewatch.streams.records import Article, decode, encode
from wirewatch.streams.tagging import Tagger, TaxonomyError, load_topics
from wirewatch.streams.tagging.reload import TaggerSource
from wirewatch.streams.topics import TopicNames

from tests.unit.streams.test_alert_steps import ITEM
from tests.unit.streams.test_pipeline_steps import App, DeadLetters

# News sentences written for this project, one per major European language.
SENTENCES = {
    "de": ("Siemens streicht Stellen", "Der Konzern kündigte am Dienstag an, in den "
           "kommenden zwei Jahren mehrere tausend Arbeitsplätze in Deutschland abzubauen."),
    "fr": ("Renault nomme un nouveau directeur", "Le constructeur automobile a annoncé "
           "mardi la nomination d'un nouveau directeur général après le départ surprise."),
    "es": ("Telefónica vende su filial", "La operadora anunció el martes la venta de su "
           "filial en Argentina por unos mil millones de euros a un fondo de inversión."),
    "it": ("Enel investe nelle rinnovabili", "Il gruppo energetico ha annunciato martedì "
           "un piano da dodici miliardi di euro per nuovi impianti solari ed eolici."),
    "pl": ("Orlen przejmuje spółkę", "Koncern paliwowy poinformował we wtorek, że kupi "
           "większościowy pakiet akcji spółki energetycznej za kilka miliardów złotych."),
    "nl": ("Philips schrapt banen", "Het technologiebedrijf maakte dinsdag bekend dat het "
           "wereldwijd nog eens duizenden banen schrapt om de kosten te verlagen."),
    "en": ("Microsoft agrees to buy Contoso", "Microsoft said on Monday it had agreed to "
           "acquire Contoso, the maker of accounting software, for $2 billion in cash."),
}


def test_the_known_codes_are_the_language_models_own() -> None:
    labels, _ = language._model().predict("news", k=400, threshold=-1.0)  # all 176
    assert {str(label).removeprefix("__label__") for label in labels} | {UNKNOWN} == LANGUAGES


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_articles_in_major_european_languages_are_recognised(lang: str) -> None:
    assert language_of(*SENTENCES[lang]) == lang


def test_a_query_names_a_language_and_refuses_one_that_can_never_fire() -> None:
    vocabulary = Vocabulary.of(["earnings"], {})
    check_query("lang:de AND topic:earnings", vocabulary)
    check_query("LANG:FR", vocabulary)  # fields and values are read without case
    with pytest.raises(QueryError, match=r"unknown language 'english' at column 1.*lang:en"):
        check_query("lang:english", vocabulary)
    with pytest.raises(QueryError, match="unknown language 'xx' at column 20"):
        check_query("topic:earnings AND lang:xx", vocabulary)


def view(lang: str) -> StoryView:
    return StoryView(story_id="s", article_id="a", title="t", url="u", source="Wire",
                     topics=("earnings",), entities=(), is_duplicate=False, lang=lang)


def test_lang_terms_match_the_articles_language() -> None:
    german = Subscription.create(name="DE", owner="", query="topic:earnings AND lang:de",
                                 channels=("console",))
    not_english = Subscription.create(name="Not EN", owner="",
                                      query="topic:earnings AND NOT lang:en",
                                      channels=("console",))
    assert matches(view("de"), german) == ["topic:earnings", "lang:de"]
    assert matches(view("en"), german) is None
    assert matches(view(""), german) is None  # a record from before languages: no language
    assert matches(view("en"), not_english) is None
    assert matches(view("fr"), not_english) == ["topic:earnings"]


async def test_the_worker_records_each_articles_language(redis_server: str,
                                                          unique: str) -> None:
    client = aioredis.Redis.from_url(redis_server)
    prefix = f"{unique}:"
    store = SubscriptionStore(client, prefix=prefix)
    activity = Activity(client, prefix=prefix)
    names = TopicNames.with_prefix(f"{unique}.")
    steps = pipeline_steps(
        names, TaggerSource(),
        assigner=StoryAssigner(client, prefix=prefix, window_seconds=86400),
        stories=StoryStore(client, prefix=prefix, window_seconds=86400), activity=activity,
        live=LiveSubscriptions(store, refresh_seconds=0),
        sent_store=SentStore(client, prefix=prefix), outbox=Outbox(client, prefix=prefix),
        events=EventAssigner(client, prefix=prefix))
    title, text = SENTENCES["de"]
    german = RawItem(item_id="de-1", feed_id="wire", feed_url=ITEM.feed_url, source="Wire",
                     url="https://wire.example/siemens", title=title, content=text,
                     fetched_at=ITEM.fetched_at)
    app = App()
    try:
        await run_batch(app, steps[:1], [(b"k1", encode(ITEM)), (b"k2", encode(german))],
                        DeadLetters())  # type: ignore[arg-type]
        articles: list[Article] = [decode(value, Article) for topic, _, value
                                   in app.producer.sent if topic == names.articles]
        assert {a.article_id: a.lang for a in articles} == {"wire-1": "en", "de-1": "de"}
        assert {s.story_id: s.lang for s in await activity.recent_stories()} == {
            "wire-1": "en", "de-1": "de"}
    finally:
        await client.aclose()


CJK = {"zh": "英伟达周二表示，其新款加速器将于下季度向云客户发货，价格尚未公布。",
       "ja": "エヌビディアは火曜日、新しいアクセラレーターを来四半期に出荷すると発表した。"}


@pytest.mark.parametrize("lang", sorted(CJK))
def test_scripts_without_spaces_neither_crash_nor_grow_without_bound(lang: str) -> None:
    text = CJK[lang] * 400  # 12,000 characters without a single space
    assert language_of("", text) == lang
    tags = TaggerSource().current().tag(CJK[lang][:20], text)
    assert tags.topics == [] and tags.entities == []
    [profile] = build_profiles([("", text, 0.0)])
    # Character pairs stand in for words, capped like any article's lemmas.
    assert profile.lang == lang and 0 < len(profile.terms) <= MAX_TERMS
    # The dedupe sketch is bounded as for any article.
    assert 0 < len(sketch(text).bottom) <= SKETCH_SIZE


def test_shipped_topics_say_which_languages_they_cover() -> None:
    assert {topic.id: sorted(topic.languages) for topic in load_topics()} == {
        topic.id: ["en"] for topic in load_topics()}


EARNINGS_EN = ("Microsoft quarterly profit rose 18% on cloud demand",
               "Microsoft reported quarterly earnings per share above analysts' estimates as "
               "revenue and net income rose on cloud demand, and raised its guidance.")


def test_a_topic_limited_to_languages_fires_only_on_articles_in_them(tmp_path: Path) -> None:
    shipped = Tagger.from_files()
    assert "earnings" in shipped.tag(*EARNINGS_EN, "en").topics
    assert "earnings" in shipped.tag(*EARNINGS_EN).topics  # no language given: not limited
    # An article in another language never gets a topic whose rules are English words.
    tags = shipped.tag(*EARNINGS_EN, "de")
    assert "earnings" not in tags.topics and "earnings" not in tags.evidence
    assert "entity:microsoft" in tags.evidence  # entities are not limited
    mine = tmp_path / "topics.yaml"
    mine.write_text("topics:\n  - id: gewinne\n    lang: [DE]\n    keywords: [Quartalsgewinn]\n")
    german = Tagger.from_files(taxonomy=[mine])
    text = ("Siemens meldet Rekord", "Der Quartalsgewinn stieg um zehn Prozent.")
    assert "gewinne" in german.tag(*text, "de").topics
    assert "gewinne" not in german.tag(*text, "fr").topics
    assert "gewinne" in german.tag(*text, "und").topics  # unsure of the language: kept
    mine.write_text("topics:\n  - id: gewinne\n    lang: [german]\n    keywords: [Gewinn]\n")
    with pytest.raises(TaxonomyError, match="lang 'german' is not a language code"):
        load_topics([mine])
