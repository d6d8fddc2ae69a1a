"""`wirewatch tail alerts|stories|events`: follow a live topic, as `kcat -C` does.

The consumer has no group: it assigns itself every partition and seeks to the end (or the
beginning), so it commits nothing and never joins, or rebalances, the pipeline's groups.
Ctrl-C (or SIGTERM) ends it with exit 0: stopping a follower is how it normally ends.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from wirewatch.cli.common import load_settings, running_bootstrap
from wirewatch.cli.output import clean
from wirewatch.streams.ops.lag import high_waters
from wirewatch.streams.replay.archiver import existing_partitions
from wirewatch.streams.topics import TopicNames

# What each name follows: the field of TopicNames, and the record's time and id fields.
STREAMS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "alerts": ("alerts", ("created_at",), "story_id"),
    "stories": ("articles", ("fetched_at",), "story_id"),
    "events": ("events", ("published",), "event_id"),
}
POLL_MS = 200  # how soon a stop request is noticed while the topic is quiet


class BadRecord(ValueError):
    """A record whose value is not a JSON object."""


def decode(value: bytes | None) -> dict[str, Any]:
    """The record's value as a JSON object."""
    if value is None:
        raise BadRecord("no value (a tombstone)")
    try:
        document = json.loads(value)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRecord(f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BadRecord(f"not a JSON object but {type(document).__name__}")
    return document


def summary(stream: str, document: dict[str, Any], timestamp_ms: int) -> str:
    """One line for a person: time, id, title (and for an alert, its subscription)."""
    _, time_keys, id_key = STREAMS[stream]
    moment = next((document[k] for k in time_keys if document.get(k)), None) or (
        datetime.fromtimestamp(timestamp_ms / 1000, UTC).isoformat(timespec="seconds"))
    ident = document.get(id_key) or "-"
    if stream == "alerts":
        ident = f"{document.get('subscription_id') or '-'} <- {ident}"
        if document.get("is_update"):
            ident += f" (update {document.get('update', '')})"
    elif stream == "stories" and document.get("is_duplicate"):
        ident += " (copy)"
    elif stream == "events" and document.get("is_new_event"):
        ident += " (new)"
    return f"{clean(moment)}  {clean(ident)}  {clean(document.get('title') or '')}"


async def follow(bootstrap: str, topic: str, show: Callable[[ConsumerRecord[Any, Any]], bool],
                 *, from_beginning: bool, limit: int | None, stop: asyncio.Event,
                 ready: Callable[[], None] = lambda: None) -> int:
    """Pass each new record of `topic` to `show` (True: it was shown) until `limit` were
    shown or `stop` is set; returns how many were shown."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        partitions = await existing_partitions(admin, topic)  # never creates it
    finally:
        await admin.close()
    if not partitions:
        raise click.ClickException(f"topic {topic!r} does not exist on {bootstrap}")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, fetch_max_wait_ms=POLL_MS)
    await consumer.start()
    shown = 0
    try:
        consumer.assign(partitions)
        # end_offsets is wrong on the embedded broker (BROKERS.md): the high water is not.
        starts = (await consumer.beginning_offsets(partitions) if from_beginning
                  else await high_waters(consumer, partitions))
        for tp, offset in starts.items():
            consumer.seek(tp, offset)
        ready()
        while not stop.is_set() and (limit is None or shown < limit):
            batches = await consumer.getmany(timeout_ms=POLL_MS)
            # Partitions interleaved by time, as far as one fetch can tell.
            for record in sorted((r for rs in batches.values() for r in rs),
                                 key=lambda r: (r.timestamp, r.partition, r.offset)):
                shown += show(record)
                if limit is not None and shown >= limit:
                    break
    finally:
        await consumer.stop()
    return shown


@click.command()
@click.argument("stream", type=click.Choice(list(STREAMS)))
@click.option("--from-beginning", is_flag=True,
              help="Start at the oldest record kept (default: only records from now on).")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=None,
              help="Stop after this many records.")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="text: time, id and title per line; json: each "
              "record's value, one JSON object per line.")
def tail(stream: str, from_beginning: bool, limit: int | None, output: str) -> None:
    """Follow alerts, stories or events as they are written (like kcat -C); Ctrl-C stops.

    Reads with no consumer group: it commits nothing and never disturbs the pipeline.
    A record that is not JSON is reported on stderr and skipped.
    """
    settings = load_settings()
    bootstrap = running_bootstrap(settings)
    topic = getattr(TopicNames.with_prefix(settings.topic_prefix), STREAMS[stream][0])

    def show(record: ConsumerRecord[Any, Any]) -> bool:
        try:
            document = decode(record.value)
        except BadRecord as exc:
            click.echo(f"wirewatch tail: skipped {topic} {record.partition}/{record.offset}: "
                       f"{exc}", err=True)
            return False
        click.echo(json.dumps(document, ensure_ascii=False) if output == "json"
                   else summary(stream, document, record.timestamp))
        return True

    def ready() -> None:
        click.echo(f"following {topic} from the {'beginning' if from_beginning else 'end'} "
                   f"on {bootstrap}; Ctrl-C stops", err=True)

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        return await follow(bootstrap, topic, show, from_beginning=from_beginning,
                            limit=limit, stop=stop, ready=ready)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:  # Ctrl-C before the loop's handler was in place
        pass
    except BrokenPipeError:  # `wirewatch tail ... | head`: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except KafkaError as exc:
        raise click.ClickException(f"cannot read {topic} from Kafka at {bootstrap}: "
                                   f"{exc}") from exc
