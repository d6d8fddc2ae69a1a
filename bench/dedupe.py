"""Benchmark the dedupe engine with its Redis index on the labelled development set.

Prints JSON: articles/s through the engine (texts normalised beforehand, batches of 256, one
process), Redis memory per article, quality (ARI, pairwise precision/recall), and the same
for a datasketch MinHashLSH baseline (128 permutations, word 5-grams, J >= 0.5) run on the
same documents in the same run, and sketches/s of the sketch function alone with its native
numbers (native/, where built) and with numpy. Skips cleanly when ../shared/data is absent.
Usage: python bench/dedupe.py [--data PATH] [--limit N]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

import redis.asyncio as aioredis
from wirewatch.streams.dedupe import sketch as sketches
from wirewatch.streams.dedupe.evaluate import Labelled, summarise
from wirewatch.streams.dedupe.service import StoryAssigner
from wirewatch.streams.embedded import start_redis
from wirewatch.streams.normalise import normalise_text

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "dedupe-dev.jsonl.gz"
BATCH = 256


def load(path: Path, limit: int | None) -> list[dict[str, object]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    return rows[:limit] if limit else rows


async def run_engine(rows: list[dict[str, object]], redis_url: str) -> dict[str, object]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        texts = [normalise_text(str(r["text"])) for r in rows]
        before = (await client.info("memory"))["used_memory"]
        assigner = StoryAssigner(client, prefix="bench:")
        stories = []
        started = time.perf_counter()
        for start in range(0, len(rows), BATCH):
            chunk = range(start, min(start + BATCH, len(rows)))
            stories += await assigner.assign_many(
                [(str(rows[i]["id"]), "", None, "", texts[i]) for i in chunk])
        elapsed = time.perf_counter() - started
        after = (await client.info("memory"))["used_memory"]
    finally:
        await client.aclose()
    quality = summarise([Labelled(str(r["id"]), str(r["cluster"]), s.story_id,
                                  tuple(r.get("ops") or ()))  # type: ignore[arg-type]
                         for r, s in zip(rows, stories, strict=True)])
    return {"articles_per_s": round(len(rows) / elapsed, 1), "seconds": round(elapsed, 2),
            "redis_bytes_per_article": round((after - before) / len(rows), 1), **quality}


def run_baseline(rows: list[dict[str, object]]) -> dict[str, object]:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    story: dict[str, str] = {}
    started = time.perf_counter()
    for row in rows:
        words = str(row["text"]).lower().split()
        shingles = {" ".join(words[i:i + 5]).encode() for i in range(max(1, len(words) - 4))}
        minhash = MinHash(num_perm=128)
        minhash.update_batch(list(shingles))
        found = lsh.query(minhash)
        doc_id = str(row["id"])
        story[doc_id] = story[found[0]] if found else doc_id
        lsh.insert(doc_id, minhash)
    elapsed = time.perf_counter() - started
    quality = summarise([Labelled(str(r["id"]), str(r["cluster"]), story[str(r["id"])])
                         for r in rows])
    quality.pop("recall_by_op")
    return {"articles_per_s": round(len(rows) / elapsed, 1), "seconds": round(elapsed, 2),
            **quality}


def sketch_speed(rows: list[dict[str, object]], repeat: int = 3) -> dict[str, object]:
    """Sketches/s of the same texts, best of `repeat` passes by CPU time, native and numpy."""
    texts = [normalise_text(str(r["text"])) for r in rows]
    kinds = {"numpy": False} | ({"native": True} if sketches.NATIVE_SKETCH else {})
    result: dict[str, object] = {}
    try:
        for name, native in kinds.items():
            sketches.NATIVE_SKETCH = native
            best = float("inf")
            for _ in range(repeat):
                started = time.process_time()
                for text in texts:
                    sketches.sketch.__wrapped__(text)  # no memo: every text is sketched
                best = min(best, time.process_time() - started)
            result[f"{name}_sketches_per_s"] = round(len(texts) / best, 1)
    finally:
        sketches.NATIVE_SKETCH = sketches._NATIVE is not None
    if "native_sketches_per_s" in result:
        result["ratio_native_to_numpy"] = round(float(result["native_sketches_per_s"])  # type: ignore[arg-type]
                                                / float(result["numpy_sketches_per_s"]), 2)  # type: ignore[arg-type]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    if not args.data.exists():
        print(json.dumps({"skipped": f"{args.data} not found (research data is not shipped)"}))
        return
    rows = load(args.data, args.limit)
    scratch = Path(tempfile.mkdtemp(prefix="ww-bench-dedupe-"))
    child, url = start_redis(scratch, scratch / "logs")
    try:
        engine = asyncio.run(run_engine(rows, url))
    finally:
        child.stop()
    try:
        baseline = run_baseline(rows)
    except ImportError:
        baseline = {"skipped": "pip install datasketch to run the baseline"}
    result = {"documents": len(rows), "wirewatch": engine, "datasketch_minhash_lsh": baseline,
              "sketch_only": sketch_speed(rows)}
    if "articles_per_s" in baseline:
        result["speed_ratio_wirewatch_to_baseline"] = round(
            float(engine["articles_per_s"]) / float(baseline["articles_per_s"]), 2)
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
