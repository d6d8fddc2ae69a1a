"""Subscriptions: creation, slug ids, channel checks and the YAML loader."""

from __future__ import annotations

from pathlib import Path

import pytest
from wirewatch.alerts.errors import SubscriptionError
from wirewatch.alerts.query import Term
from wirewatch.alerts.subscriptions import Subscription, check_channels, load_subscriptions


@pytest.mark.parametrize(("name", "slug"), [
    ("OpenAI leadership", "openai-leadership"),
    ("  Microsoft -- Earnings!! ", "microsoft-earnings"),
    ("Q3/2025 results", "q3-2025-results"),
])
def test_create_derives_a_slug_id_from_the_name(name: str, slug: str) -> None:
    subscription = Subscription.create(name=name, owner="ana", query="topic:earnings")
    assert subscription.id == slug
    assert subscription.channels == ("console",)
    assert subscription.parsed == Term("topic", "earnings")


def test_create_keeps_an_explicit_id() -> None:
    subscription = Subscription.create(name="x", owner="", query="topic:a", id="mine")
    assert subscription.id == "mine"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"query": "topic:a AND"}, "subscription 'S': query ends where a term was expected"),
    ({"query": "author:x"}, "subscription 'S': unknown field 'author'"),
    ({"query": ""}, "subscription 'S': empty query"),
    ({"channels": ("console", "slack:#news")}, r"channel id\(s\) \['slack:#news'\]"),
    ({"channels": ()}, "needs at least one channel"),
    ({"name": "!!!"}, "has no letters or digits"),
])
def test_create_rejects_bad_subscriptions(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"name": "S", "owner": "ana", "query": "topic:a", **kwargs}
    with pytest.raises(SubscriptionError, match=message):
        Subscription.create(**arguments)  # type: ignore[arg-type]


def test_channels_must_be_defined() -> None:
    subscription = Subscription.create(name="S", owner="", query="topic:a",
                                       channels=("console", "team-slack"))
    check_channels([subscription], frozenset({"console", "team-slack"}))
    with pytest.raises(SubscriptionError, match=r"unknown channel\(s\) \['team-slack'\]"):
        check_channels([subscription], frozenset({"console"}))


GOOD = """
subscriptions:
  - name: OpenAI safety
    owner: ana
    query: entity:openai AND (topic:ai-safety OR topic:leadership-change)
  - id: msft
    name: Microsoft earnings
    query: entity:microsoft AND topic:earnings
    channels: console
  - name: Layoffs
    query: topic:layoffs
    channels: [console, team-slack]
"""


def test_load_subscriptions_reads_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "subs.yaml"
    path.write_text(GOOD, encoding="utf-8")
    subscriptions = load_subscriptions(path)
    assert [(s.id, s.owner, s.channels) for s in subscriptions] == [
        ("openai-safety", "ana", ("console",)),
        ("msft", "", ("console",)),  # a single channel may be given as a string
        ("layoffs", "", ("console", "team-slack")),
    ]


def test_load_subscriptions_accepts_an_empty_list(tmp_path: Path) -> None:
    path = tmp_path / "subs.yaml"
    path.write_text("subscriptions: []\n", encoding="utf-8")
    assert load_subscriptions(path) == []


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read subscriptions file"),
    ("subscriptions: [unclosed\n", "is not valid YAML"),
    ("", "needs a top-level 'subscriptions:' list"),
    ("subs:\n  - name: x\n    query: topic:a\n", "needs a top-level 'subscriptions:' list"),
    ("subscriptions: {name: x}\n", "needs a top-level 'subscriptions:' list"),
    ("- name: x\n  query: topic:a\n", "needs a top-level 'subscriptions:' list"),
    ("subscriptions:\n  - just a string\n", r"subscriptions\[0\]: expected a mapping"),
    ("subscriptions:\n  - name: x\n", r"subscriptions\[0\]: missing or non-string \['query'\]"),
    ("subscriptions:\n  - {name: x, query: 3}\n", r"missing or non-string \['query'\]"),
    ("subscriptions:\n  - {name: x, query: 'topic:a', channels: [1]}\n",
     "channels must be a list of strings"),
    ("subscriptions:\n  - {name: x, query: 'topic:a', channels: ['#news']}\n",
     r"subscriptions\[0\]: subscription 'x': channel id"),
    ("subscriptions:\n  - {name: ok, query: 'topic:a'}\n  - {name: bad, query: 'topic:'}\n",
     r"subscriptions\[1\]: subscription 'bad': unexpected 'topic:'"),
    ("subscriptions:\n  - {name: A b, query: 'topic:a'}\n  - {name: a-B, query: 'topic:b'}\n",
     r"duplicate subscription ids \['a-b'\]"),
    ("subscriptions:\n  - {id: x, name: one, query: 'topic:a'}\n"
     "  - {id: x, name: two, query: 'topic:b'}\n", r"duplicate subscription ids \['x'\]"),
])
def test_load_subscriptions_rejects_bad_files(
        tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "subs.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SubscriptionError, match=message) as caught:
        load_subscriptions(path)
    assert str(path) in str(caught.value)


def test_numeric_ids_are_refused(tmp_path):
    path = tmp_path / "subs.yaml"
    path.write_text("subscriptions:\n  - {id: 42, name: n, query: 'topic:earnings'}\n")
    with pytest.raises(SubscriptionError, match="id must be a string"):
        load_subscriptions(path)


@pytest.mark.parametrize(("name", "query", "message"), [
    pytest.param("Earnings\u202e", "topic:earnings",
                 r"RIGHT-TO-LEFT OVERRIDE \(U\+202E\) at column 9 is not allowed in a name",
                 id="bidi-override-in-name"),
    pytest.param("Ear\x00nings", "topic:earnings",
                 r"control character \(U\+0000\) at column 4 is not allowed in a name",
                 id="nul-in-name"),
    pytest.param("Earnings", "topic:earnings \u2067",
                 r"RIGHT-TO-LEFT ISOLATE \(U\+2067\) at column 16 is not allowed in a query",
                 id="isolate-in-query"),
])
def test_control_and_bidi_characters_are_refused(name: str, query: str, message: str) -> None:
    with pytest.raises(SubscriptionError, match=message):
        Subscription.create(name=name, owner="ana", query=query)


@pytest.mark.parametrize(("content", "message"), [
    pytest.param("subscriptions:\n  - name: A\n    query: topic:a\n    chanels: [console]\n",
                 r":4:5: subscriptions\[0\]: unknown key 'chanels' \(did you mean 'channels'\?",
                 id="typo-in-entry"),
    pytest.param("subscriptions:\n  - name: A\n    query: topic:a\n    schedule:\n"
                 "      mode: daily\n      timezon: UTC\n",
                 r":6:7: subscriptions\[0\]\.schedule: unknown key 'timezon' \(did you mean "
                 r"'timezone'\?", id="typo-in-schedule"),
    pytest.param("subscriptions:\n  - name: A\n    query: topic:a\n  - name: B\n",
                 r":4:5: subscriptions\[1\]: missing or non-string \['query'\]",
                 id="entry-line"),
    pytest.param('subscriptions:\n  - name: A\n    query: "topic:a\\0"\n',
                 r":3:12: subscriptions\[0\]: .*U\+0000", id="nul-from-yaml"),
])
def test_file_mistakes_name_the_file_the_line_and_the_key(tmp_path: Path, content: str,
                                                          message: str) -> None:
    path = tmp_path / "subscriptions.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SubscriptionError, match=message) as excinfo:
        load_subscriptions(path)
    assert str(excinfo.value).startswith(f"{path}:")


def test_every_key_to_dict_writes_is_a_file_key(tmp_path: Path) -> None:
    from wirewatch.alerts.subscriptions import FILE_KEYS, SCHEDULE_KEYS, Schedule

    subscription = Subscription.create(
        name="All", owner="ana", query="topic:a", schedule=Schedule(
            mode="daily", quiet_hours=("22:00", "07:00"), rate_cap_per_hour=5,
            group_wait_seconds=30))
    written = subscription.to_dict()
    assert set(written) <= set(FILE_KEYS)
    assert set(written["schedule"]) <= set(SCHEDULE_KEYS)
    import yaml

    path = tmp_path / "subscriptions.yaml"
    path.write_text(yaml.safe_dump({"subscriptions": [written]}), encoding="utf-8")
    assert load_subscriptions(path) == [subscription]
