"""Benchmark discovery: recall of Reuters `people` labels, precision on a hand-checked sample.

Prints JSON:
- reuters_people: on the Reuters-21578 ModApte training split (../shared/data, research
  licence; skipped when absent), the share of `people` labels (james-baker, volcker) that
  discovery finds, as a person and as any type, beside the baseline of the same run:
  every run of capitalised words (a capitalised n-gram) of the same text. A label counts as
  found when its words are consecutive words of a found name (volcker in Paul Volcker).
  The candidates per document say what each costs a reader: the baseline finds nearly
  every label by listing every capitalised word.
- precision: over bench/discovery_sample.tsv, 200 discoveries drawn at random (seed 29)
  from the same split and judged by reading each in its story: ok, wrong-type, partial
  (part of a name, or two names run together) or not-a-name; false ones by kind. Only
  names and story ids are kept there, never the licensed text. Items the current code no
  longer discovers are counted as stale (redraw with --draw and judge again).
Usage: python bench/discovery.py [--draw]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from wirewatch.streams.records import DiscoveredEntity
from wirewatch.streams.tagging import Tagger
from wirewatch.streams.tagging.text import words_of

ROOT = Path(__file__).resolve().parents[1]
REUTERS = ROOT.parent / "shared" / "data" / "reuters-modapte-train.jsonl.gz"
SAMPLE = ROOT / "bench" / "discovery_sample.tsv"
SAMPLE_SIZE, SEED = 200, 29
_CAPITALISED = re.compile(r"[A-Z][a-z]+(?:['-][A-Za-z]+)*(?:\s+[A-Z][a-z]+(?:['-][A-Za-z]+)*)*")


def baseline(title: str, body: str) -> list[str]:
    """Every maximal run of capitalised words: the capitalised n-gram baseline."""
    return sorted(set(_CAPITALISED.findall(title)) | set(_CAPITALISED.findall(body)))


def contains(name_words: tuple[str, ...], label: tuple[str, ...]) -> bool:
    return any(name_words[i:i + len(label)] == label
               for i in range(len(name_words) - len(label) + 1))


def found(label: str, names: list[str]) -> bool:
    wanted = tuple(words_of(label.replace("-", " ")))
    return any(contains(tuple(words_of(name)), wanted) for name in names)


def recall(rows: list[dict[str, Any]], tagger: Tagger) -> dict[str, Any]:
    labelled = [row for row in rows if row["people"]]
    hits = Counter[str]()
    total = 0
    candidates = Counter[str]()
    for row in rows:
        discovered = tagger.tag(row["title"], row["body"]).discovered
        plain = baseline(row["title"], row["body"])
        candidates["discovery"] += len(discovered)
        candidates["baseline"] += len(plain)
        if not row["people"]:
            continue
        people = [d.name for d in discovered if d.type == "person"]
        for label in row["people"]:
            total += 1
            hits["discovery_as_person"] += found(label, people)
            hits["discovery_any_type"] += found(label, [d.name for d in discovered])
            hits["baseline_capitalised_ngrams"] += found(label, plain)
    return {"documents": len(rows), "documents_with_people": len(labelled), "labels": total,
            "recall": {key: round(value / total, 4) for key, value in sorted(hits.items())},
            "candidates_per_document": {key: round(value / len(rows), 2)
                                        for key, value in candidates.items()}}


def all_discoveries(rows: list[dict[str, Any]],
                    tagger: Tagger) -> list[tuple[str, DiscoveredEntity]]:
    return [(str(row["id"]), d) for row in rows
            for d in tagger.tag(row["title"], row["body"]).discovered]


def draw(rows: list[dict[str, Any]], tagger: Tagger) -> None:
    """Write a fresh sample with empty verdicts, and print each item in context to judge."""
    sample = random.Random(SEED).sample(all_discoveries(rows, tagger), SAMPLE_SIZE)
    texts = {str(row["id"]): f"{row['title']}\n{row['body']}" for row in rows}
    with SAMPLE.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter="\t")
        writer.writerow(["story", "name", "type", "verdict", "kind", "note"])
        for story, d in sample:
            writer.writerow([story, d.name, d.type, "", "", ""])
            text = texts[story]
            at = text.find(d.name.split()[0])
            context = " ".join(text[max(0, at - 80):at + 120].split())
            print(f"{story}\t{d.name}\t{d.type}\t{context}", file=sys.stderr)


def precision(rows: list[dict[str, Any]], tagger: Tagger) -> dict[str, Any]:
    if not SAMPLE.exists():
        return {"skipped": f"{SAMPLE} not found: run with --draw and judge it"}
    with SAMPLE.open(encoding="utf-8", newline="") as handle:
        judged = list(csv.DictReader(handle, delimiter="\t"))
    current = {(story, d.name, d.type) for story, d in all_discoveries(
        [row for row in rows if str(row["id"]) in {j["story"] for j in judged}], tagger)}
    verdicts = Counter(j["verdict"] for j in judged)
    stale = sum(1 for j in judged if (j["story"], j["name"], j["type"]) not in current)
    false = Counter(j["kind"] for j in judged if j["verdict"] != "ok")
    by_type = {kind: Counter(j["verdict"] for j in judged if j["type"] == kind)
               for kind in sorted({j["type"] for j in judged})}
    return {"judged": len(judged), "precision": round(verdicts["ok"] / len(judged), 4),
            "verdicts": dict(verdicts), "false_by_kind": dict(false.most_common()),
            "by_type": {kind: {"judged": sum(c.values()),
                               "precision": round(c["ok"] / sum(c.values()), 4)}
                        for kind, c in by_type.items()},
            "stale": stale}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draw", action="store_true",
                        help="draw a new sample into bench/discovery_sample.tsv to judge")
    args = parser.parse_args()
    if not REUTERS.exists():
        json.dump({"skipped": f"{REUTERS} not found"}, sys.stdout)
        print()
        return
    with gzip.open(REUTERS, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    tagger = Tagger.from_files()
    if args.draw:
        draw(rows, tagger)
        return
    json.dump({"reuters_people": recall(rows, tagger), "precision": precision(rows, tagger)},
              sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
