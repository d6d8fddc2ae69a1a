"""Run the connector's parser over a directory of real-world and ill-formed feeds.

Every file goes through the same bounded ParserPool the connector uses. Prints JSON: files,
how many gave entries, errors, timeouts, exceptions escaping (must be 0) and the slowest
file. Point it at any corpus, e.g. feedparser's own tests/ directory (not shipped here).
Usage: python bench/feed_corpus.py DIR [--timeout 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from wirewatch.connectors.parse_pool import ParserPool

SUFFIXES = {".xml", ".rss", ".atom", ".rdf", ".json", ".opml", ".html"}


async def run(directory: Path, timeout: float) -> dict[str, object]:
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    pool = ParserPool(workers=2, timeout=timeout, memory_mb=1024)
    counts = {"files": len(files), "with_entries": 0, "with_error": 0, "timeouts": 0,
              "exceptions": 0, "entries": 0}
    slowest = (0.0, "")
    started = time.perf_counter()
    try:
        for index, path in enumerate(files, 1):
            began = time.perf_counter()
            try:
                parsed = await pool.parse(path.read_bytes())
            except Exception:  # noqa: BLE001 - counted: the parser must never raise
                counts["exceptions"] += 1
                continue
            spent = time.perf_counter() - began
            slowest = max(slowest, (spent, str(path.relative_to(directory))))
            counts["entries"] += len(parsed.entries)
            counts["with_entries"] += bool(parsed.entries)
            counts["with_error"] += parsed.error is not None
            counts["timeouts"] += bool(parsed.error and "longer than" in parsed.error)
            if index % 500 == 0:
                print(f"{index}/{len(files)} files", flush=True)
    finally:
        pool.close()
    return {**counts, "seconds": round(time.perf_counter() - started, 1),
            "slowest_ms": round(slowest[0] * 1000, 1), "slowest_file": slowest[1]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory", type=Path)
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()
    if not args.directory.is_dir():
        raise SystemExit(f"{args.directory} is not a directory")
    print(json.dumps(asyncio.run(run(args.directory, args.timeout)), indent=2))


if __name__ == "__main__":
    main()
