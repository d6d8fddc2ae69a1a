"""`wirewatch dlq list|replay`: read the dead-letter topic; send dead letters back to their stage.

`list` reads the topic straight from Kafka. `replay` asks the running worker to send each
chosen record back (POST /api/v1/dlq/resend, the web token as bearer token), because only
the worker runs the stages and its delivery queues. Replayed records are remembered in
Redis, so running the same replay twice sends nothing twice.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import click
import redis.asyncio as aioredis
from aiokafka.errors import KafkaError

from wirewatch.cli.common import Group, load_settings, running_bootstrap, with_redis
from wirewatch.cli.output import Column, Output, output_options
from wirewatch.streams.ops import dead_letters
from wirewatch.streams.ops.dead_letters import DeadRecord
from wirewatch.streams.ops.when import when
from wirewatch.streams.settings import Settings
from wirewatch.streams.topics import TopicNames

Place = tuple[int, int]  # partition, offset
SCAN = 10_000  # newest records read per partition to choose from by stage
_PLACE = re.compile(r"(\d+)/(\d+)")


@dataclass(frozen=True)
class Outcome:
    word: str  # sent, skipped, refused, would send
    detail: str = ""


Send = Callable[[DeadRecord], Awaitable[Outcome]]


def parse_place(text: str) -> Place:
    """`3/1200` as (partition 3, offset 1200)."""
    found = _PLACE.fullmatch(text.strip())
    if found is None:
        raise click.BadParameter(f"{text!r}: write PARTITION/OFFSET, e.g. 0/12",
                                 param_hint="--record")
    return int(found[1]), int(found[2])


def _places(context: click.Context, parameter: click.Parameter,
            values: tuple[str, ...]) -> list[Place]:
    return [parse_place(value) for value in values]


def select(records: list[DeadRecord], *, stage: str | None = None) -> list[DeadRecord]:
    """The records of `stage` (all without one), oldest first: the order they failed in."""
    chosen = [r for r in records if stage is None or r.stage == stage]
    return sorted(chosen, key=lambda r: (r.timestamp, r.partition, r.offset))


def remembered_as(record: DeadRecord) -> str:
    """The record's member of the replayed set. Its timestamp is part of it: the embedded
    broker starts offsets over when it restarts, and a new record at an old place is new."""
    return f"{record.partition}/{record.offset}@{round(record.timestamp * 1000)}"


async def replay_records(client: aioredis.Redis, key: str, records: list[DeadRecord],
                         send: Send, *, again: bool = False,
                         dry_run: bool = False) -> AsyncIterator[tuple[DeadRecord, Outcome]]:
    """Send each record back unless the set at `key` says it was; yields what happened.

    A record is added to the set before it is sent, so two replays running at once cannot
    both send it, and taken out again when the worker refuses it, so a later run may retry.
    """
    for record in records:
        member = remembered_as(record)
        if dry_run:
            replayed = not again and await client.sismember(key, member)
            yield record, (Outcome("skipped", "already replayed") if replayed
                           else Outcome("would send"))
            continue
        claimed = bool(await client.sadd(key, member))
        if not claimed and not again:
            yield record, Outcome("skipped", "already replayed")
            continue
        try:
            outcome = await send(record)
        except BaseException:
            if claimed:
                await client.srem(key, member)
            raise
        if outcome.word != "sent" and claimed:
            await client.srem(key, member)
        yield record, outcome


async def read_dead_letters(settings: Settings, *, places: list[Place] | None = None,
                            scan: int = SCAN) -> tuple[list[DeadRecord], list[Place]]:
    """The records at `places`, or the newest `scan` per partition without any; and the
    places where no dead letter was found."""
    bootstrap = running_bootstrap(settings)
    topic = TopicNames.with_prefix(settings.topic_prefix).dlq
    try:
        if places is None:
            return await dead_letters.latest(bootstrap, topic, limit=scan), []
        found = [await dead_letters.one(bootstrap, topic, *place) for place in places]
    except KafkaError as exc:
        raise click.ClickException(f"cannot read {topic} from Kafka at {bootstrap}: "
                                   f"{exc}") from exc
    return ([r for r in found if r is not None],
            [place for place, r in zip(places, found, strict=True) if r is None])


def worker_sender(session: aiohttp.ClientSession, url: str, token: str) -> Send:
    """Asks the worker at `url` to send a record back. A worker that cannot be reached or
    refuses the token stops the replay: every other record would fail the same way."""
    endpoint = f"{url.rstrip('/')}/api/v1/dlq/resend"

    async def send(record: DeadRecord) -> Outcome:
        try:
            async with session.post(endpoint, headers={"Authorization": f"Bearer {token}"},
                                    json={"partition": record.partition,
                                          "offset": record.offset}) as response:
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise click.ClickException(f"cannot reach the wirewatch worker at {url}: "
                                       f"{exc or type(exc).__name__}") from exc
        try:
            answer = json.loads(text)
        except ValueError:
            answer = {"error": f"HTTP {response.status}: {text[:200]}"}
        if response.status in (401, 403):
            raise click.ClickException(f"the worker at {url} refused: {answer.get('error')}")
        if response.status != 200:
            return Outcome("refused", str(answer.get("error", f"HTTP {response.status}")))
        return Outcome("sent")

    return send


def _stage(record: DeadRecord) -> str:
    """The stage, and for a failed delivery the channel it goes back to."""
    channel = record.headers.get("channel")
    return f"{record.stage or '?'} ({channel})" if channel else record.stage or "?"


def _source(headers: dict[str, str]) -> str:
    place = f"{headers.get('source_partition', '')}/{headers.get('source_offset', '')}"
    return f"{headers.get('source_topic', '')} {place}".strip(" /")


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"


@click.group(cls=Group)
def dlq() -> None:
    """Dead letters: records a stage could not process, and failed deliveries."""


@dlq.command("list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1),
              help="Show at most this many, newest first.")
@click.option("--stage", help="Only this stage's: normalise, tag, match or deliver.")
@output_options()
def list_dead_letters(limit: int, stage: str | None, out: Output) -> None:
    """The newest dead letters, read from Kafka."""
    settings = load_settings()
    records, _ = asyncio.run(read_dead_letters(settings, scan=SCAN if stage else limit))
    shown = select(records, stage=stage)[::-1][:limit]
    rows = [{"record": f"{r.partition}/{r.offset}", "partition": r.partition,
             "offset": r.offset, "timestamp": r.timestamp, "time": iso(r.timestamp),
             "stage": r.stage, "headers": r.headers,
             "key": r.key.decode("utf-8", "replace") if r.key is not None else None,
             "preview": r.preview} for r in shown]
    out.rows(rows, [
        Column("record", "record"), Column("timestamp", "when", show=when),
        Column("stage", "stage"),
        Column("headers", "error", show=lambda h: _one_line(h.get("error", ""), 50),
               style=lambda h: "red" if h.get("error") else ""),
        Column("headers", "source", show=_source), Column("preview", "preview",
                                                          show=lambda p: _one_line(p, 40))],
        empty="no dead letters" + (f" at stage {stage}" if stage else ""))


def iso(epoch: float) -> str:
    """An epoch as an ISO time in UTC, for machine-readable output."""
    return datetime.fromtimestamp(epoch, UTC).isoformat()


@dlq.command("replay")
@click.option("--stage", help="Every dead letter of this stage.")
@click.option("--record", "places", multiple=True, callback=_places, metavar="P/O",
              help="The dead letter at partition P, offset O (repeatable).")
@click.option("--all", "every", is_flag=True, help="Every dead letter.")
@click.option("--dry-run", is_flag=True, help="Show what would be sent back; send nothing.")
@click.option("--url", default=None, help="The worker's web address. Default: "
              "http://<web_host>:<web_port> from the settings.")
@click.option("--again", is_flag=True, help="Send records back that were replayed before.")
def replay(stage: str | None, places: list[Place], every: bool, dry_run: bool,
           url: str | None, again: bool) -> None:
    """Ask the running worker to send dead letters back to their stage, each once.

    With --stage and --record together, only the named records of that stage are sent.
    Exit code 1 if the worker refused any.
    """
    if not (stage or places or every):
        raise click.UsageError("say which: --stage STAGE, --record P/O or --all")
    settings = load_settings()
    url = url or f"http://{settings.web_host}:{settings.web_port}"
    token = settings.web_token.get_secret_value() if settings.web_token else ""
    if not token and not dry_run:
        raise click.ClickException("WIREWATCH_WEB_TOKEN is not set: the worker only takes "
                                   "dead letters back from a caller with its web token")

    async def run(client: aioredis.Redis, _: Settings) -> Counter[str]:
        records, missing = await read_dead_letters(settings, places=places or None)
        chosen = select(records, stage=stage)
        counts = Counter({"refused": len(missing)})
        for partition, offset in missing:
            click.echo(f"{partition}/{offset}  refused (no dead letter there)")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            outcomes = replay_records(client, f"{settings.redis_prefix}dlq:replayed", chosen,
                                      worker_sender(session, url, token), again=again,
                                      dry_run=dry_run)
            async for record, outcome in outcomes:
                detail = f" ({outcome.detail})" if outcome.detail else ""
                click.echo(f"{record.partition}/{record.offset}  {_stage(record)}  "
                           f"{outcome.word}{detail}")
                counts[outcome.word] += 1
        return counts

    counts = with_redis(run)
    click.echo(", ".join(f"{n} {word}" for word, n in counts.items() if n)
               or "no dead letters to replay", err=True)
    if counts["refused"]:
        sys.exit(1)
