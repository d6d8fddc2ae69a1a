"""Topic names, with and without a prefix."""

from __future__ import annotations

import pytest
from wirewatch.streams.topics import TopicNames


@pytest.mark.parametrize(("prefix", "expected"), [
    ("", ("news.raw.v1", "news.articles.v1", "news.tagged.v1", "news.alerts.v1", "news.dlq.v1",
          "news.events.v1")),
    ("staging.", ("staging.news.raw.v1", "staging.news.articles.v1", "staging.news.tagged.v1",
                  "staging.news.alerts.v1", "staging.news.dlq.v1", "staging.news.events.v1")),
])
def test_with_prefix(prefix: str, expected: tuple[str, ...]) -> None:
    names = TopicNames.with_prefix(prefix)
    assert names.all() == expected
    assert (names.raw, names.articles, names.tagged, names.alerts, names.dlq,
            names.events) == expected


def test_default_prefix_is_empty() -> None:
    assert TopicNames.with_prefix() == TopicNames.with_prefix("")
