"""`wirewatch archive`: keep a topic's history on disk beyond Kafka's retention, and
`wirewatch archive restore`: produce it back (the embedded broker forgets it on restart)."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from aiokafka.errors import KafkaError

from wirewatch.cli.common import Group, load_settings
from wirewatch.cli.replay import moment_option
from wirewatch.streams.embedded import running_kafka
from wirewatch.streams.replay.archive import (
    ArchiveError,
    ArchiveWriter,
    archive_files,
    read_archive,
)
from wirewatch.streams.replay.archiver import ArchiveRun, archive_topic
from wirewatch.streams.replay.restore import restore_records
from wirewatch.streams.replay.window import to_ms
from wirewatch.streams.settings import Settings
from wirewatch.streams.topics import TopicNames

T = TypeVar("T")


def _kafka(settings: Settings) -> str:
    """The configured Kafka, or the embedded broker of a wirewatch running on this data dir
    (never a new embedded broker: it would start empty)."""
    found = settings.kafka_bootstrap or running_kafka(settings.data_dir)
    if not found:
        raise click.ClickException(
            "no Kafka to talk to: set WIREWATCH_KAFKA_BOOTSTRAP, or start `wirewatch run` "
            f"on this data dir ({settings.data_dir}) to use its embedded broker")
    return found


def _until_signalled(work: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    """Run `work(stop)`; SIGINT and SIGTERM set `stop`, so it can flush and commit first."""
    async def main() -> T:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        return await work(stop)

    return asyncio.run(main())


class _Every:
    """Call `show` at most once per `seconds` (progress lines on stderr)."""

    def __init__(self, seconds: float, show: Callable[[Any], str]) -> None:
        self.seconds, self.show, self.shown_at = seconds, show, time.monotonic()

    def __call__(self, run: object) -> None:
        if time.monotonic() - self.shown_at >= self.seconds:
            self.shown_at = time.monotonic()
            click.echo(self.show(run), err=True)


_USER_ERRORS = (ArchiveError, KafkaError, OSError)


@click.group(invoke_without_command=True, cls=Group)
@click.option("--dir", "directory", type=click.Path(path_type=Path, file_okay=False),
              help="Archive directory (created if missing).")
@click.option("--topic", default=None, help="Topic to archive. Default: the raw topic "
              "(news.raw.v1 after WIREWATCH_TOPIC_PREFIX).")
@click.option("--once", is_flag=True, help="Archive up to the high-water marks measured at "
              "start, then exit (for cron and tests).")
@click.option("--group", default=None, help="Consumer group keeping the archiver's offsets. "
              "Default: <app_id>-archive.")
@click.option("--flush-records", type=click.IntRange(min=1), default=5000, show_default=True,
              help="Write and commit after this many records...")
@click.option("--flush-seconds", type=click.FloatRange(min=0.1), default=5.0,
              show_default=True, help="...or after this many seconds, whichever comes first.")
@click.pass_context
def archive(ctx: click.Context, directory: Path | None, topic: str | None, once: bool,
            group: str | None, flush_records: int, flush_seconds: float) -> None:
    """Archive a topic to files beyond Kafka's retention (`archive restore` produces it back).

    Files are DIR/<topic>/<YYYY-MM-DD>/<HH>.p<partition>.jsonl.gz. Runs until Ctrl-C or
    SIGTERM.
    """
    if ctx.invoked_subcommand is not None:
        if directory or topic or once or group:
            raise click.UsageError(f"write the options after `{ctx.invoked_subcommand}`")
        return
    if directory is None:
        raise click.UsageError("say where to archive: --dir DIR")
    settings = load_settings()
    topic = topic or TopicNames.with_prefix(settings.topic_prefix).raw
    group = group or f"{settings.app_id}-archive"
    try:
        with ArchiveWriter(directory, topic) as writer:
            bootstrap = _kafka(settings)
            click.echo(f"archiving {topic} from {bootstrap} into {directory / topic} (group "
                       f"{group}); {'up to its current end' if once else 'Ctrl-C stops'}",
                       err=True)
            run = _until_signalled(lambda stop: archive_topic(
                bootstrap, topic, writer, group=group, once=once, flush_records=flush_records,
                flush_seconds=flush_seconds, stop=stop,
                progress=_Every(5.0, ArchiveRun.describe)))
    except _USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"archived {run.records:,} records of {topic} into {directory / topic} "
               f"({run.files} files written to)")
    if once and not run.complete:
        click.echo("stopped before the end; run again to continue", err=True)
        sys.exit(130)


def _moment(text: str | None, option: str, now: datetime) -> int | None:
    return to_ms(moment_option(text, option, now)) if text is not None else None


@archive.command("restore")
@click.option("--dir", "directory", required=True,
              type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Archive directory written by `wirewatch archive`.")
@click.option("--topic", default=None, help="Archived topic. Default: the raw topic.")
@click.option("--to-topic", default=None, help="Topic to produce to (created if missing). "
              "Default: the archived topic itself.")
@click.option("--from", "start", default=None, help="Only records from this time: ISO time "
              "(UTC unless it has an offset), a date, or an age such as 7d.")
@click.option("--to", "end", default=None, help="Only records before this time.")
@click.option("--dry-run", is_flag=True, help="Count what would be restored; produce nothing.")
def restore(directory: Path, topic: str | None, to_topic: str | None, start: str | None,
            end: str | None, dry_run: bool) -> None:
    """Produce archived records back to Kafka, each into its own partition with the same
    key, value, headers and timestamp."""
    settings = load_settings()
    topic = topic or TopicNames.with_prefix(settings.topic_prefix).raw
    to_topic = to_topic or topic
    now = datetime.now(UTC)
    start_ms, end_ms = _moment(start, "--from", now), _moment(end, "--to", now)
    if start_ms is not None and end_ms is not None and end_ms <= start_ms:
        raise click.BadParameter("--to must be after --from", param_hint="--to")
    files = archive_files(directory, topic, start_ms, end_ms)
    if not files:
        raise click.ClickException(f"nothing archived of {topic} under {directory}"
                                   f"{' in that window' if start or end else ''}")
    records = read_archive(directory, topic, start_ms, end_ms)
    if dry_run:
        counts = Counter(record.partition for record in records)
        click.echo(f"would restore {sum(counts.values()):,} records of {topic} to {to_topic} "
                   f"(per partition: {dict(sorted(counts.items()))})")
        return
    needed = max(f.partition for f in files) + 1
    try:
        run = asyncio.run(restore_records(
            _kafka(settings), records, to_topic, partitions=needed,
            create_partitions=max(needed, settings.topic_partitions),
            replication=settings.topic_replication,
            progress=_Every(5.0, lambda r: f"{r.records:,} records restored")))
    except _USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from exc
    created = " (created it)" if run.created else ""
    click.echo(f"restored {run.records:,} records of {topic} from {directory} to "
               f"{to_topic}{created}")
    if run.moved:
        click.echo(f"note: {run.moved:,} records got other offsets than in the archive (the "
                   "topic was not empty, or the archive has gaps)"
                   + ("; `wirewatch archive` will refuse to go on archiving it into "
                      f"{directory}" if to_topic == topic else ""), err=True)
