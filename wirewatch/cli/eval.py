"""`wirewatch eval ...`: run a stage's engine over a JSON-lines file and report quality."""

from __future__ import annotations

import asyncio
import gzip
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import click
import msgspec
import redis.asyncio as aioredis

from wirewatch.cli.common import Group
from wirewatch.streams.dedupe.evaluate import Labelled, summarise
from wirewatch.streams.dedupe.service import StoryAssigner
from wirewatch.streams.embedded import embedded_services
from wirewatch.streams.normalise import normalise_text, normalise_title
from wirewatch.streams.tagging import Tagger, TaxonomyError
from wirewatch.streams.tagging.evaluate import topic_quality


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Lines of a JSON-lines file (gzip by magic bytes); a bad line is a clear error."""
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise click.ClickException(f"{path}:{number}: not JSON: {exc}") from exc
            if not isinstance(record, dict) or "id" not in record:
                raise click.ClickException(f"{path}:{number}: needs an object with an 'id'")
            yield number, record


@click.group("eval", cls=Group)
def eval_group() -> None:
    """Run a pipeline stage over a file, as the stream does, and report what it decided."""


@eval_group.command("dedupe")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--labels", is_flag=True, help="Input has 'cluster' (and 'ops'): print quality.")
@click.option("-o", "--output", type=click.File("w"), default="-",
              help="Where the JSON lines go (default: standard output).")
def eval_dedupe(path: Path, labels: bool, output: IO[str]) -> None:
    """Assign each document (id, text, optional title/url) to a story, in file order."""
    with tempfile.TemporaryDirectory(prefix="wirewatch-eval-") as scratch, \
            embedded_services("", None, Path(scratch), need_kafka=False) as ends:
        results = asyncio.run(_run_dedupe(path, ends.redis_url, labels, output))
    if labels:
        summary = summarise(results)
        click.echo(json.dumps(summary, indent=2), err=True)


BATCH = 256


async def _run_dedupe(path: Path, redis_url: str, labels: bool,
                      output: IO[str]) -> list[Labelled]:
    client = aioredis.Redis.from_url(redis_url)
    assigner = StoryAssigner(client, prefix="eval:")
    results: list[Labelled] = []
    batch: list[dict[str, Any]] = []
    started = time.monotonic()
    done = 0

    async def flush() -> None:
        nonlocal done
        stories = await assigner.assign_many([
            (str(r["id"]), (urlsplit(r["url"]).hostname or "") if r.get("url") else "",
             r.get("url"), normalise_title(str(r.get("title") or "")), normalise_text(r["text"]))
            for r in batch])
        for record, story in zip(batch, stories, strict=True):
            output.write(json.dumps({"id": record["id"], "story_id": story.story_id,
                                     "duplicate_of": story.duplicate_of}) + "\n")
            if labels:
                results.append(Labelled(str(record["id"]), str(record["cluster"]),
                                        story.story_id, tuple(record.get("ops") or ())))
        done += len(batch)
        batch.clear()
        if done % (BATCH * 8) == 0:
            rate = done / max(1e-9, time.monotonic() - started)
            print(f"eval dedupe: {done} documents, {rate:,.0f}/s", file=sys.stderr, flush=True)

    try:
        for number, record in read_jsonl(path):
            text = record.get("text") or record.get("body")
            if not isinstance(text, str):
                raise click.ClickException(f"{path}:{number}: needs a 'text' string")
            if labels and "cluster" not in record:
                raise click.ClickException(f"{path}:{number}: --labels needs a 'cluster'")
            if not isinstance(record.get("url"), str):
                record["url"] = None
            batch.append({**record, "text": text})
            if len(batch) == BATCH:
                await flush()
        if batch:
            await flush()
    finally:
        await client.aclose()
    print(f"eval dedupe: {done} documents in {time.monotonic() - started:.1f}s",
          file=sys.stderr)
    return results


@eval_group.command("tag")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--taxonomy", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              multiple=True, help="Topic rules extending (or replacing) the shipped ones.")
@click.option("--watchlist", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              multiple=True, help="Watched entities extending (or replacing) the shipped ones.")
@click.option("--labels", is_flag=True,
              help="Input has 'topics' lists: print precision/recall/F1 per topic.")
@click.option("--label-map", multiple=True, metavar="LABEL=TOPIC",
              help="Read a label as a topic id, e.g. earn=earnings (repeatable).")
@click.option("-o", "--output", type=click.File("w"), default="-",
              help="Where the JSON lines go (default: standard output).")
def eval_tag(path: Path, taxonomy: tuple[Path, ...], watchlist: tuple[Path, ...], labels: bool,
             label_map: tuple[str, ...], output: IO[str]) -> None:
    """Tag each document (id, title, body or text) as the stream's tag stage does."""
    try:
        tagger = Tagger.from_files(taxonomy, watchlist)
    except TaxonomyError as exc:
        raise click.ClickException(str(exc)) from exc
    mapping = {}
    for pair in label_map:
        label, _, topic = pair.partition("=")
        if not label or not topic:
            raise click.BadParameter(f"{pair!r}: write LABEL=TOPIC", param_hint="--label-map")
        mapping[label] = topic
    scored: list[tuple[set[str], set[str]]] = []
    started = time.monotonic()
    for number, record in read_jsonl(path):
        text = record.get("body", record.get("text"))
        if not isinstance(text, str):
            raise click.ClickException(f"{path}:{number}: needs a 'body' or 'text' string")
        tags = tagger.tag(normalise_title(str(record.get("title") or "")), normalise_text(text))
        output.write(json.dumps({
            "id": record["id"], "topics": tags.topics,
            "entities": [{"id": e.id, "name": e.name, "type": e.type, "salience": e.salience}
                         for e in tags.entities],
            "evidence": {tag: [msgspec.to_builtins(e) for e in found]
                         for tag, found in tags.evidence.items()}}) + "\n")
        if labels:
            truth = record.get("topics")
            if not isinstance(truth, list):
                raise click.ClickException(f"{path}:{number}: --labels needs a 'topics' list")
            scored.append(({mapping.get(str(t), str(t)) for t in truth}, set(tags.topics)))
        if number % 2048 == 0:
            rate = number / max(1e-9, time.monotonic() - started)
            print(f"eval tag: {number} documents, {rate:,.0f}/s", file=sys.stderr, flush=True)
    if labels:
        click.echo(json.dumps(topic_quality(scored, [t.id for t in tagger.topics]), indent=2),
                   err=True)
