# ruff: noqa: E501  (fixture prose keeps one sentence per line, as articles have)
"""The event layer on hand-written write-ups: same happening joins, unrelated news does not.

Fixtures are written here (not taken from the research data set): three outlets' own
articles about one resignation, and unrelated news that shares a company name.
"""

from __future__ import annotations

import asyncio
import socket

import pytest
import redis.asyncio as aioredis
from wirewatch.streams.events import embedding, language
from wirewatch.streams.events.engine import (
    Candidate,
    EventAssignment,
    EventEngine,
    best_event,
    index_keys,
)
from wirewatch.streams.events.index import MemoryEventIndex, RedisEventIndex
from wirewatch.streams.events.profile import Profile, build_profiles
from wirewatch.streams.events.similarity import FEATURES, EventModel, features

T0 = 1_780_000_000.0

REUTERS = ("OpenAI safety team leaders resign",
           "Two leaders of OpenAI's superalignment team, Jan Leike and Ilya Sutskever, resigned on Tuesday, the company said. "
           "Leike said on X that safety culture at OpenAI had taken a back seat to shiny products. "
           "OpenAI chief executive Sam Altman thanked both and said the company would keep investing in safety research.")
VERGE = ("Jan Leike quits OpenAI, says safety took a back seat",
         "Jan Leike, who co-led OpenAI's superalignment group with Ilya Sutskever, has left the company. "
         "In a thread on X, Leike wrote that OpenAI's safety culture had taken a back seat to shiny products. "
         "Sam Altman responded that he was sad to see Leike leave and that OpenAI had more to do on safety.")
BLOG = ("Another exit at OpenAI: superalignment co-lead Leike is out",
        "OpenAI lost another senior researcher this week as Jan Leike announced his resignation days after Ilya Sutskever left. "
        "Leike criticised OpenAI's priorities, saying safety had taken a back seat. Sam Altman said OpenAI would respond in the coming days.")
UNRELATED = ("Microsoft opens data centre in Poland",
             "Microsoft opened a new data centre region near Warsaw on Tuesday, its first in Poland, investing about $1 billion. "
             "The company said the region would serve banks and government agencies that need their data kept in the country. "
             "Polish officials welcomed the investment and said it would create hundreds of jobs.")
GERMAN = ("Bundestag beschließt Rentenpaket",
          "Der Bundestag hat am Freitag das umstrittene Rentenpaket der Bundesregierung beschlossen. "
          "Für das Gesetz stimmten 319 Abgeordnete, dagegen 225. Arbeitsminister Hubertus Heil sprach von einem guten Tag für die Rentnerinnen und Rentner.")


def profiles(*items: tuple[str, str], start: float = T0) -> list[Profile]:
    return build_profiles([(title, text, start + 600 * n) for n, (title, text) in enumerate(items)])


def test_the_packaged_models_load_without_touching_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    embedding._model.cache_clear()
    language._model.cache_clear()
    vectors = embedding.embed(["OpenAI safety team quits", "Leaders of OpenAI's safety group resign"])
    assert vectors.shape == (2, embedding.DIMENSIONS)
    assert abs(float(vectors[0] @ vectors[0]) - 1.0) < 1e-4
    assert float(vectors[0] @ vectors[1]) > 0.5
    assert language.detect(GERMAN[1]) == "de"


def test_languages_are_detected_and_unknown_when_empty() -> None:
    assert language.detect(REUTERS[1]) == "en"
    assert language.detect("习近平周二在北京会见了来访的法国总统马克龙。") == "zh"
    assert language.detect("   ") == language.UNKNOWN


def test_a_quantised_vector_keeps_its_cosine() -> None:
    a, b = embedding.embed([REUTERS[1], VERGE[1]])
    exact = float(a @ b)
    assert abs(float(embedding.dequantise(embedding.quantise(a)) @ b) - exact) < 0.02


def test_profiles_hold_names_numbers_and_lemmas() -> None:
    (german,) = profiles(GERMAN)
    assert german.lang == "de"
    assert {"319", "225"} <= german.numbers
    assert {"hubertus", "heil"} <= german.names
    assert "beschließen" in german.terms  # "beschlossen", lemmatised
    (english,) = profiles(UNRELATED)
    assert {"warsaw", "poland"} <= english.names
    assert "polish" not in english.names  # capitalised only because a sentence starts there


def test_write_ups_of_one_event_score_above_the_threshold_and_others_below() -> None:
    model = EventModel.load()
    reuters, verge, blog, unrelated, german = profiles(REUTERS, VERGE, BLOG, UNRELATED, GERMAN)
    assert len(features(reuters, verge)) == len(FEATURES)
    for other in (verge, blog):
        assert model.same_event(model.similarity(reuters, other))
    assert not model.same_event(model.similarity(reuters, unrelated))
    assert model.similarity(reuters, german) == 0.0  # another language is never compared
    assert model.similarity(reuters, verge) > model.similarity(reuters, unrelated)


def test_the_shipped_model_must_name_the_features_it_weighs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    wrong = tmp_path / "model.json"
    wrong.write_text('{"features": ["embedding"], "weights": [1.0], "bias": 0, "threshold": 0.5}')
    with pytest.raises(ValueError, match="features"):
        EventModel.load(wrong)


async def test_three_write_ups_make_one_event_and_unrelated_news_its_own() -> None:
    engine = EventEngine(MemoryEventIndex())
    stories = list(zip(["reuters", "verge", "unrelated", "blog"],
                       profiles(REUTERS, VERGE, UNRELATED, BLOG), strict=True))
    one_by_one = [await engine.assign_many([story]) for story in stories]
    events = [found[0].event_id for found in one_by_one]
    assert events == ["reuters", "reuters", "unrelated", "reuters"]
    assert one_by_one[0][0].is_new and not one_by_one[1][0].is_new
    # A story seen again (a replay) keeps its first answer.
    assert (await engine.assign_many([stories[1]]))[0].event_id == "reuters"


async def test_a_batch_assigns_as_if_one_by_one() -> None:
    stories = list(zip(["reuters", "verge", "unrelated", "blog"],
                       profiles(REUTERS, VERGE, UNRELATED, BLOG), strict=True))
    batched = await EventEngine(MemoryEventIndex()).assign_many(stories)
    single = EventEngine(MemoryEventIndex())
    one_by_one = [(await single.assign_many([story]))[0] for story in stories]
    assert [e.event_id for e in batched] == [e.event_id for e in one_by_one]


async def test_stories_outside_the_window_found_a_new_event() -> None:
    engine = EventEngine(MemoryEventIndex(window_seconds=3600))
    early, = profiles(REUTERS)
    late, = profiles(VERGE, start=T0 + 5 * 3600)
    await engine.assign_many([("reuters", early)])
    assert (await engine.assign_many([("verge", late)]))[0].event_id == "verge"


def test_index_keys_stay_within_a_language() -> None:
    (english,) = profiles(REUTERS)
    keys = index_keys(english)
    assert keys and all(key.startswith("en:") for key in keys)
    assert "en:leike" in keys


@pytest.mark.redis
@pytest.mark.parametrize("workers", [2, 3])
async def test_workers_racing_on_simultaneous_stories_make_one_event(
        redis_server: str, unique: str, workers: int) -> None:
    """Write-ups of one event reach several workers at the same instant: one event."""
    connections = [aioredis.Redis.from_url(redis_server) for _ in range(workers)]
    built = profiles(REUTERS, VERGE, BLOG)
    try:
        engines = [EventEngine(RedisEventIndex(c, prefix=f"{unique}:")) for c in connections]
        start = asyncio.Event()

        async def worker(index: int) -> EventAssignment:
            await start.wait()
            (found,) = await engines[index % workers].assign_many(
                [(f"story-{index}", built[index % len(built)])])
            return found

        tasks = [asyncio.create_task(worker(i)) for i in range(9)]
        await asyncio.sleep(0)
        start.set()
        results = await asyncio.gather(*tasks)
        stored = await RedisEventIndex(connections[0], prefix=f"{unique}:").events_of(
            [f"story-{i}" for i in range(9)])
    finally:
        for connection in connections:
            await connection.aclose()
    assert len({r.event_id for r in results}) == 1
    assert sum(r.is_new for r in results) == 1
    assert set(stored) == {results[0].event_id}


@pytest.mark.redis
async def test_the_redis_index_keeps_the_event_and_its_story_count(
        redis_client: aioredis.Redis, unique: str) -> None:
    engine = EventEngine(RedisEventIndex(redis_client, prefix=f"{unique}:"))
    built = profiles(REUTERS, VERGE, UNRELATED)
    found = await engine.assign_many(list(zip(["r", "v", "u"], built, strict=True)))
    assert [f.event_id for f in found] == ["r", "r", "u"]
    head = await redis_client.hgetall(f"{unique}:ev:e:r")
    assert int(head[b"stories"]) == 2
    assert float(head[b"first_seen"]) == built[0].published
    assert float(head[b"last_seen"]) == built[1].published
    ttl = await redis_client.ttl(f"{unique}:ev:s:r")
    assert 0 < ttl <= 2 * 72 * 3600


class TableModel:
    """A stand-in for the event model: similarities from a table, the shipped threshold."""

    threshold = 0.55

    def __init__(self, table: dict[frozenset[str], float]) -> None:
        self.table = table

    def similarity(self, a: Profile, b: Profile) -> float:
        return self.table[frozenset({a.lang, b.lang})]

    def same_event(self, similarity: float) -> bool:
        return similarity >= self.threshold


def test_an_event_does_not_drift_away_from_its_founder() -> None:
    """C reads like B, B like A (the founder), C not at all like A: C founds its own."""
    a, b, c = (Profile(lang=name, terms=frozenset(), title_terms=frozenset(),
                       names=frozenset(), numbers=frozenset(), published=T0,
                       vector=embedding.embed(["x"])[0]) for name in "abc")
    model = TableModel({frozenset("ab"): 0.8, frozenset("bc"): 0.8, frozenset("ac"): 0.1})
    member, founder = Candidate("b", "a", b), Candidate("a", "a", a, founder_only=True)
    assert best_event(model, c, [member, founder]) is None  # type: ignore[arg-type]
    close = TableModel({frozenset("ab"): 0.8, frozenset("bc"): 0.8, frozenset("ac"): 0.45})
    found = best_event(close, c, [member, founder])  # type: ignore[arg-type]
    assert found is not None and found[0].story_id == "b"
