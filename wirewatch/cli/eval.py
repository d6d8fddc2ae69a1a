"""`wirewatch eval ...`: run a stage's engine over a JSON-lines file and report quality."""

from __future__ import annotations

import asyncio
import gzip
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
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
from wirewatch.streams.events.evaluate import ScoredPair, pair_quality
from wirewatch.streams.events.profile import build_profiles, language_of
from wirewatch.streams.events.service import EventAssigner, StoryItem
from wirewatch.streams.normalise import normalise_text, normalise_title
from wirewatch.streams.tagging import Tagger, TaxonomyError
from wirewatch.streams.tagging.evaluate import topic_quality


def read_jsonl(path: Path, needs: tuple[str, ...] = ("id",),
               ) -> Iterator[tuple[int, dict[str, Any]]]:
    """Lines of a JSON-lines file (gzip by magic bytes), each an object with the `needs`
    keys; a bad line is a clear error."""
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise click.ClickException(f"{path}:{number}: not JSON: {exc}") from exc
            if not isinstance(record, dict) or not set(needs) <= record.keys():
                names = " and ".join(repr(n) for n in needs)
                raise click.ClickException(f"{path}:{number}: needs an object with {names}")
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
        title, body = normalise_title(str(record.get("title") or "")), normalise_text(text)
        lang = record.get("lang")  # as the worker does: the article's language limits topics
        tags = tagger.tag(title, body, lang if isinstance(lang, str) else language_of(title, body))
        output.write(json.dumps({
            "id": record["id"], "topics": tags.topics,
            "entities": [{"id": e.id, "name": e.name, "type": e.type, "salience": e.salience}
                         for e in tags.entities],
            "evidence": {tag: [msgspec.to_builtins(e) for e in found]
                         for tag, found in tags.evidence.items()},
            # Names no watched entity covers: who to watch next (see `watchlist add`).
            "discovered": [msgspec.to_builtins(d) for d in tags.discovered]}) + "\n")
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


@eval_group.command("events")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--pairs", "pairs_path", type=click.Path(path_type=Path, exists=True,
                                                       dir_okay=False),
              help="Score these pairs (pair_id, a, b) instead of printing each article.")
@click.option("--labels", is_flag=True,
              help="Pairs have 'overall' (1 same event ... 4 unrelated): print quality.")
@click.option("-o", "--output", type=click.File("w"), default="-",
              help="Where the JSON lines go (default: standard output).")
def eval_events(path: Path, pairs_path: Path | None, labels: bool, output: IO[str]) -> None:
    """Assign articles (id, title, text, optional lang/url/published) to stories and events.

    In file order, with a fresh embedded Redis; a missing 'published' means every article
    at the same moment. Prints {id, story_id, event_id} per article, or with --pairs
    {pair_id, similarity, same_event} per pair, from the code that assigns events.
    """
    if labels and pairs_path is None:
        raise click.UsageError("--labels scores pairs: give --pairs too")
    articles = _read_articles(path)
    pairs = _read_pairs(pairs_path, set(articles), labels) if pairs_path else None
    with tempfile.TemporaryDirectory(prefix="wirewatch-eval-") as scratch, \
            embedded_services("", None, Path(scratch), need_kafka=False) as ends:
        scored = asyncio.run(_run_events(articles, pairs, ends.redis_url, output))
    if labels:
        click.echo(json.dumps(pair_quality(scored), indent=2), err=True)


def _read_articles(path: Path) -> dict[str, dict[str, Any]]:
    articles: dict[str, dict[str, Any]] = {}
    moment = datetime.now(UTC).timestamp()  # no 'published': all at the same moment
    for number, record in read_jsonl(path):
        text = record.get("text")
        if not isinstance(text, str):
            raise click.ClickException(f"{path}:{number}: needs a 'text' string")
        published = record.get("published")
        try:
            when = datetime.fromisoformat(published).timestamp() if published else moment
        except (TypeError, ValueError) as exc:
            raise click.ClickException(
                f"{path}:{number}: 'published' {published!r} is not an ISO 8601 time") from exc
        articles[str(record["id"])] = {
            "title": str(record.get("title") or ""), "text": text, "published": when,
            "lang": record.get("lang") if isinstance(record.get("lang"), str) else None,
            "url": record.get("url") if isinstance(record.get("url"), str) else None}
    return articles


def _read_pairs(path: Path, known: set[str], labels: bool) -> list[dict[str, Any]]:
    pairs = []
    for number, pair in read_jsonl(path, needs=("pair_id", "a", "b")):
        for side in ("a", "b"):
            if str(pair[side]) not in known:
                raise click.ClickException(
                    f"{path}:{number}: article {pair[side]!r} is not in the articles file")
        if labels and not isinstance(pair.get("overall"), int | float):
            raise click.ClickException(f"{path}:{number}: --labels needs an 'overall'")
        pairs.append(pair)
    return pairs


async def _run_events(articles: dict[str, dict[str, Any]], pairs: list[dict[str, Any]] | None,
                      redis_url: str, output: IO[str]) -> list[ScoredPair]:
    client = aioredis.Redis.from_url(redis_url)
    stories = StoryAssigner(client, prefix="eval:")
    events = EventAssigner(client, prefix="eval:")
    ids = list(articles)
    started = time.monotonic()
    try:
        for start in range(0, len(ids), BATCH):
            chunk = ids[start:start + BATCH]
            cleaned = {i: (normalise_title(articles[i]["title"]),
                           normalise_text(articles[i]["text"])) for i in chunk}
            assigned = await stories.assign_many([
                (i, (urlsplit(articles[i]["url"]).hostname or "") if articles[i]["url"] else "",
                 articles[i]["url"], *cleaned[i]) for i in chunk])
            found = await events.assign_many([
                StoryItem(story.story_id, not story.is_duplicate, *cleaned[i],
                          articles[i]["published"], articles[i]["lang"])
                for i, story in zip(chunk, assigned, strict=True)])
            for i, story, event in zip(chunk, assigned, found, strict=True):
                articles[i].update(story_id=story.story_id, event_id=event.event_id)
                if pairs is None:
                    output.write(json.dumps({"id": i, "story_id": story.story_id,
                                             "event_id": event.event_id}) + "\n")
            print(f"eval events: {start + len(chunk)} articles, "
                  f"{(start + len(chunk)) / max(1e-9, time.monotonic() - started):,.0f}/s",
                  file=sys.stderr, flush=True)
        if pairs is None:
            return []
        profiles = dict(zip(ids, build_profiles(
            [(normalise_title(articles[i]["title"]), normalise_text(articles[i]["text"]),
              articles[i]["published"]) for i in ids], [articles[i]["lang"] for i in ids]),
            strict=True))
        model = events.engine.model
        scored = []
        for pair in pairs:
            a, b = str(pair["a"]), str(pair["b"])
            similarity = model.similarity(profiles[a], profiles[b])
            # The pipeline's decision: whether the two landed in one event (an event can
            # also gather two articles through a third, or miss one by arrival order).
            same = articles[a]["event_id"] == articles[b]["event_id"]
            output.write(json.dumps({"pair_id": pair["pair_id"],
                                     "similarity": round(similarity, 4),
                                     "same_event": same}) + "\n")
            scored.append(ScoredPair(str(pair.get("lang") or profiles[a].lang), similarity,
                                     same, float(pair.get("overall") or 0.0)))
        return scored
    finally:
        await client.aclose()
