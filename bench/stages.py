"""Benchmark the pure stage functions (normalise, tag, match) on synthetic articles.

Prints JSON: articles/s for each stage and, as the baseline measured in the same run, the rate
of decoding and re-encoding the same RawItems with msgspec (the least any stage must do).
Usage: python bench/stages.py [--n 5000]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime

from wirewatch.alerts.matching import match_story
from wirewatch.connectors.records import RawItem, decode_raw_item, encode_raw_item
from wirewatch.streams.dedupe import StoryAssignment
from wirewatch.streams.demo import demo_subscriptions
from wirewatch.streams.stages import build_article, clean_raw, story_view, tag_article
from wirewatch.streams.tagging import Tagger

PARAGRAPH = ("<p>OpenAI said on Friday that its safety team would report to the board, after "
             "Microsoft (NASDAQ:MSFT) and other investors asked for changes. Revenue rose 15 "
             "percent to 72.4 billion dollars as quarterly profit rose.</p>")


def make_items(n: int) -> list[bytes]:
    now = datetime.now(UTC)
    return [encode_raw_item(RawItem(
        item_id=f"i{i}", feed_id="bench", feed_url="https://bench.example/rss",
        source="bench", url=f"https://bench.example/{i}", title=f"Story {i}: OpenAI update",
        content="<div>Home | News | Tech</div>" + PARAGRAPH * 12 + "<p>Source link</p>",
        fetched_at=now)) for i in range(n)]


def rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    n = parser.parse_args().n
    tagger = Tagger.from_files()
    subscriptions = demo_subscriptions()
    payloads = make_items(n)

    started = time.perf_counter()
    for payload in payloads:
        encode_raw_item(decode_raw_item(payload))
    baseline = time.perf_counter() - started

    started = time.perf_counter()
    cleaned = [(item, *clean_raw(item)) for item in map(decode_raw_item, payloads)]
    normalise = time.perf_counter() - started

    solo = StoryAssignment(story_id="s", is_duplicate=False, duplicate_of=None, similarity=0.0)
    articles = [build_article(item, title, text, solo) for item, title, text in cleaned]
    started = time.perf_counter()
    tagged = [tag_article(article, tagger) for article in articles]
    tag = time.perf_counter() - started

    now = datetime.now(UTC)
    started = time.perf_counter()
    alerts = sum(len(match_story(story_view(t), subscriptions, now=now)) for t in tagged)
    match = time.perf_counter() - started

    print(json.dumps({
        "articles": n,
        "article_bytes": len(payloads[0]),
        "baseline_decode_encode_per_s": rate(n, baseline),
        "normalise_per_s": rate(n, normalise),
        "tag_per_s": rate(n, tag),
        "match_per_s": rate(n, match),
        "alerts": alerts,
        "ratio_normalise_to_baseline": round(baseline / normalise, 4),
        "ratio_tag_to_baseline": round(baseline / tag, 4),
    }, indent=2))


if __name__ == "__main__":
    main()
