"""Benchmark the tagger: quality on labelled sets and speed with 100 vs 10,000 aliases.

Prints JSON:
- quality: precision/recall/F1 of `earnings` and `mergers-acquisitions` with the shipped
  rules on the Reuters-21578 ModApte training split (../shared/data, research licence; the
  section is skipped when it is absent), and of `ai-safety` and `leadership-change` on the
  labelled fixtures in tests/fixtures/tagging/labelled.jsonl;
- speed: articles/s over ~3 KB articles with the shipped taxonomy and 100, then 10,000,
  watched aliases, one process; the baseline in the same run is tokenising alone (the
  least any tagger must do), so the ratio says how much the matching costs on top.
  Where the native scan (native/) is built, the 10,000-alias pass is timed with the
  pure-Python scan too, and the ratio printed.
  Every tagger is built as the worker builds it: the knowledge base of listed companies
  (streams/defaults/companies.json) scanned too, and discovery on; the 10,000-alias pass
  is timed again without either, so the ratio says what discovery costs;
- knowledge_base: its load time and memory (Python heap, tracemalloc) and the worker's
  resident memory with and without it (a tagger of the shipped files);
  Each is timed over --repeat passes (CPU time of this process): the best pass is the
  speed of the code, the median what a busy machine made of it (timeit's advice: "higher
  values are typically not caused by variability in Python's speed, but by other processes
  interfering with your timing accuracy").
Usage: python bench/tagging.py [--articles 3000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wirewatch.streams.tagging import Tagger, companies, load_entities, load_topics
from wirewatch.streams.tagging.evaluate import topic_quality
from wirewatch.streams.tagging.files import Entity
from wirewatch.streams.tagging.matcher import NATIVE_SCAN
from wirewatch.streams.tagging.text import Field

ROOT = Path(__file__).resolve().parents[1]
REUTERS = ROOT.parent / "shared" / "data" / "reuters-modapte-train.jsonl.gz"
FIXTURES = ROOT / "tests" / "fixtures" / "tagging" / "labelled.jsonl"
LABELS = {"earn": "earnings", "acq": "mergers-acquisitions"}


def quality(rows: list[dict[str, object]], tagger: Tagger,
            topics: list[str]) -> dict[str, dict[str, float | int]]:
    """Precision/recall/F1 per topic, scored as `wirewatch eval tag --labels` does."""
    scored = [({LABELS.get(str(t), str(t)) for t in r["topics"]},  # type: ignore[attr-defined]
               set(tagger.tag(str(r["title"]), str(r.get("body") or "")).topics))
              for r in rows]
    return topic_quality(scored, topics)


def synthetic_entities(count: int, seed: int = 7) -> list[Entity]:
    """`count` aliases over count/2 companies, names drawn from a syllable vocabulary."""
    draw = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ra", "te", "zu", "vo", "ne", "si", "ba", "qu", "do"]

    def word() -> str:
        return "".join(draw.choice(syllables) for _ in range(3)).capitalize()

    return [Entity(f"synthetic-{i}", f"{word()} {word()}", "organization",
                   (f"{word()} {word()} Holdings", word()))
            for i in range(count // 2)]


def articles(count: int, seed: int = 3) -> list[tuple[str, str]]:
    """~3 KB articles: Reuters bodies joined when the data is there, else generated prose."""
    draw = random.Random(seed)
    if REUTERS.exists():
        with gzip.open(REUTERS, "rt", encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle]
        pick = lambda: draw.choice(rows)  # noqa: E731
        made = []
        for _ in range(count):
            body = ""
            while len(body) < 3000:
                body += str(pick()["body"]) + "\n"
            made.append((str(pick()["title"]), body[:3000]))
        return made
    words = ("the company said on monday that its quarterly profit rose as chief executive "
             "jane roe announced plans to acquire a rival for two billion dollars").split()
    return [(" ".join(draw.choices(words, k=10)).title(),
             " ".join(draw.choices(words, k=520))[:3000]) for _ in range(count)]


def passes(run: Callable[[], None], count: int, repeat: int) -> dict[str, float]:
    """Items/s of the best and of the median of `repeat` passes, by this process's CPU time."""
    seconds = []
    for _ in range(repeat):
        started = time.process_time()
        run()
        seconds.append(time.process_time() - started)
    return {"articles_per_s": round(count / min(seconds), 1),
            "median_pass_articles_per_s": round(count / statistics.median(seconds), 1)}


def speed(sample: list[tuple[str, str]], aliases: int, repeat: int,
          native: bool | None = None, discover: bool = True) -> dict[str, Any]:
    tagger = Tagger(load_topics(), load_entities() + synthetic_entities(aliases), native=native,
                    companies=companies.load() if discover else (), discover=discover)
    for title, body in sample[:200]:  # warm up
        tagger.tag(title, body)

    def tag_all() -> None:
        tagger._memo.cache_clear()  # distinct articles are the measure, not repeated ones
        for title, body in sample:
            tagger.tag(title, body)

    return {"aliases": tagger.alias_count, "scan": "native" if tagger.matcher.native else "pure",
            "discovery": discover, **passes(tag_all, len(sample), repeat)}


def knowledge_base() -> dict[str, float]:
    """What the knowledge base costs a worker: load time, heap, and resident memory."""
    code = ("import sys; from wirewatch.streams.tagging import Tagger, companies, "
            "load_entities, load_topics; kb = sys.argv[1] == '1'; "
            "t = Tagger(load_topics(), load_entities(), companies=companies.load() if kb else (),"
            " discover=kb); print(int(open('/proc/self/statm').read().split()[1]) * 4)")
    rss = [int(subprocess.run([sys.executable, "-c", code, flag], capture_output=True,
                              text=True, check=True).stdout) for flag in ("0", "1")]
    companies.load.cache_clear()
    tracemalloc.start()
    started = time.perf_counter()
    companies.load()
    seconds = time.perf_counter() - started
    heap = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"companies": len(companies.load()), "load_ms": round(seconds * 1000, 1),
            "load_heap_mb": round(heap / 1e6, 1),
            "worker_rss_mb_without": round(rss[0] / 1024, 1),
            "worker_rss_mb_with_kb_and_discovery": round(rss[1] / 1024, 1),
            "worker_rss_mb_cost": round((rss[1] - rss[0]) / 1024, 1)}


def tokenise_only(sample: list[tuple[str, str]], repeat: int) -> dict[str, float]:
    def tokenise_all() -> None:
        for title, body in sample:
            Field.of("title", title).tokens, Field.of("body", body).tokens

    return passes(tokenise_all, len(sample), repeat)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over the articles")
    args = parser.parse_args()
    shipped = Tagger.from_files()
    result: dict[str, object] = {}
    if REUTERS.exists():
        with gzip.open(REUTERS, "rt", encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle]
        result["reuters_modapte_train"] = {"documents": len(rows), **quality(
            rows, shipped, ["earnings", "mergers-acquisitions"])}
    else:
        result["reuters_modapte_train"] = {"skipped": f"{REUTERS} not found"}
    if FIXTURES.exists():
        rows = [json.loads(line) for line in FIXTURES.read_text(encoding="utf-8").splitlines()]
        result["fixtures"] = {"documents": len(rows), **quality(
            rows, shipped, ["ai-safety", "leadership-change"])}
    sample = articles(args.articles)
    small, large = speed(sample, 100, args.repeat), speed(sample, 10_000, args.repeat)
    plain = speed(sample, 10_000, args.repeat, discover=False)
    baseline = tokenise_only(sample, args.repeat)
    report: dict[str, object] = {
        "article_chars": round(sum(len(t) + len(b) for t, b in sample) / len(sample)),
        "aliases_100": small, "aliases_10000": large, "aliases_10000_no_discovery": plain,
        "ratio_10000_to_100": round(large["articles_per_s"] / small["articles_per_s"], 2),
        "ratio_discovery_to_none": round(large["articles_per_s"] / plain["articles_per_s"], 2)}
    if NATIVE_SCAN:  # the pure-Python scan, the fallback and reference, in the same run
        pure = speed(sample, 10_000, args.repeat, native=False, discover=False)
        report |= {"aliases_10000_pure_scan": pure, "ratio_native_to_pure_scan": round(
            plain["articles_per_s"] / pure["articles_per_s"], 2)}  # both without discovery
    result["knowledge_base"] = knowledge_base()
    result["speed"] = report | {
        "baseline_tokenise_only": baseline,
        "ratio_to_tokenise_only": round(large["articles_per_s"] / baseline["articles_per_s"], 2),
        "passes": args.repeat, "clock": "process CPU time"}
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
