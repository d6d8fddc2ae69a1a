"""`wirewatch replay` and `wirewatch subscriptions backtest`: re-run a time window of raw
items through the current code and report (or deliver) what it would alert."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from wirewatch.alerts.errors import AlertsError
from wirewatch.cli.common import load_settings
from wirewatch.connectors.errors import ConnectorError
from wirewatch.streams.embedded import EmbeddedServiceError, embedded_services
from wirewatch.streams.replay.engine import run_id
from wirewatch.streams.replay.report import Report
from wirewatch.streams.replay.run import (
    Checkpoint,
    ReplayError,
    ReplayPlan,
    Services,
    checkpoint_path,
    run_replay,
    write_report,
)
from wirewatch.streams.replay.window import MomentError, parse_moment
from wirewatch.streams.settings import Settings
from wirewatch.streams.topics import TopicNames


def moment_option(text: str, option: str, now: datetime) -> datetime:
    """A --from/--to value as a UTC time; a mistake is the option's error, not a traceback."""
    try:
        return parse_moment(text, now).astimezone(UTC)
    except MomentError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from exc


def _plan(settings: Settings, start: str, end: str | None, archive: Path | None,
          **choices: Any) -> ReplayPlan:
    """The plan for a window given as typed, with a fresh run id."""
    now = datetime.now(UTC)
    begin = moment_option(start, "--from", now)
    finish = moment_option(end, "--to", now) if end else None
    if finish is not None and finish <= begin:
        raise click.BadParameter("--to must be after --from", param_hint="--to")
    return ReplayPlan(run_id=run_id(now), start=begin.isoformat(),
                      end=finish.isoformat() if finish else None,
                      topic=TopicNames.with_prefix(settings.topic_prefix).raw,
                      archive=str(archive) if archive else None, **choices)


class _Progress:
    """A progress line on stderr: records done, rate and ETA (a bar on a terminal)."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.first: int | None = None
        self.shown_at = 0.0
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = done
        final = total is not None and done >= total
        if now - self.shown_at < (0.2 if self.tty else 5.0) and not final:
            return
        self.shown_at = now
        rate = (done - self.first) / max(now - self.started, 1e-9)
        if total:
            left = (total - done) / rate if rate > 0 else float("inf")
            eta = f"ETA {left:,.0f} s" if left != float("inf") else "ETA -"
            width = 30
            filled = int(width * min(done / total, 1.0))
            bar = "#" * filled + "-" * (width - filled)
            line = f"[{bar}] {done:,}/{total:,} records  {rate:,.0f}/s  {eta}"
        else:
            line = f"{done:,} records  {rate:,.0f}/s"
        click.echo(("\r" + line) if self.tty else line, err=True, nl=not self.tty)

    def close(self) -> None:
        if self.tty:
            click.echo("", err=True)


def execute(plan: ReplayPlan, settings: Settings, out_dir: Path, *,
            resume: Checkpoint | None = None) -> Report:
    """Run the replay against the configured (or the running embedded) services."""
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    progress = _Progress()
    try:
        with embedded_services(settings.kafka_bootstrap, redis_url, settings.data_dir,
                               need_kafka=plan.archive is None) as ends:
            services = Services(kafka_bootstrap=ends.kafka_bootstrap, redis_url=ends.redis_url,
                                redis_prefix=settings.redis_prefix,
                                tagger=settings.tagger_source(),
                                dedupe_window_seconds=settings.dedupe_window_days * 86400,
                                event_window_seconds=settings.event_window_hours * 3600,
                                ledger_days=settings.ledger_days, out_dir=out_dir)

            async def main() -> Report:
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(signum, stop.set)
                return await run_replay(plan, services, stop=stop, progress=progress,
                                        resume=resume)

            report = asyncio.run(main())
    except (ReplayError, EmbeddedServiceError, ConnectorError, AlertsError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        progress.close()
    return report


def _finish(report: Report, out_dir: Path, as_json: bool) -> None:
    paths = write_report(report, out_dir)
    c = report.counts
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        click.echo(f"replayed {report.run_records:,} records in {report.run_seconds:.1f} s: "
                   f"{c['articles']:,} articles in the window ({c['new_stories']:,} stories)")
        if report.run_records != c["records"]:  # resumed: say what every run did together
            click.echo(f"with the interrupted run(s): {c['records']:,} records in "
                       f"{report.elapsed_seconds:.1f} s")
        for subscription_id, count in report.matches_per_subscription().items():
            click.echo(f"  {subscription_id}: {count} alert(s)")
        if report.mode == "deliver":
            click.echo(f"queued for delivery now: {c['queued']:,} (already sent live: "
                       f"{c['already_sent']:,})")
        click.echo(f"report: {paths['markdown']} (also report.json, matches.csv)")
    if not report.complete:
        click.echo(f"stopped before the end; continue with: wirewatch replay --resume "
                   f"{report.run_id}", err=True)
        sys.exit(130)


def _out_dir(settings: Settings, report_dir: Path | None, identifier: str) -> Path:
    return report_dir or settings.data_dir / "replay" / identifier


@click.command()
@click.option("--from", "start", help="Start of the window: ISO time (UTC unless it has an "
              "offset), a date, or an age such as 2h or 7d.")
@click.option("--to", "end", default=None, help="End of the window (exclusive); default: "
              "the newest record.")
@click.option("--feed", "feeds", multiple=True, help="Only items of this feed (id or URL); "
              "repeat for more.")
@click.option("--subscription", "subscriptions", multiple=True,
              help="Only match this subscription id; repeat for more. Default: all.")
@click.option("--deliver", is_flag=True, help="Queue alerts the ledger has never sent (the "
              "running worker delivers them). Default: a dry run that only reports.")
@click.option("--rate", type=click.FloatRange(min=0.1), default=None,
              help="Read at most this many records per second.")
@click.option("--from-archive", "archive", type=click.Path(path_type=Path, file_okay=False,
              exists=True), default=None, help="Replay from an archive directory "
              "(`wirewatch archive`) instead of Kafka.")
@click.option("--resume", "resume_id", default=None,
              help="Continue an interrupted replay by its run id.")
@click.option("--report-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where the checkpoint and report go. Default: <data_dir>/replay/<run id>.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def replay(start: str | None, end: str | None, feeds: tuple[str, ...],
           subscriptions: tuple[str, ...], deliver: bool, rate: float | None,
           archive: Path | None, resume_id: str | None, report_dir: Path | None,
           as_json: bool) -> None:
    """Re-run news.raw.v1 from a time through the current normalise, dedupe, tag and match."""
    settings = load_settings()
    if resume_id:
        out_dir = _out_dir(settings, report_dir, resume_id)
        path = checkpoint_path(out_dir)
        if not path.exists():
            raise click.ClickException(f"no checkpoint for run {resume_id!r} at {path}")
        checkpoint = Checkpoint.load(path)
        if checkpoint.report.complete:
            raise click.ClickException(f"run {resume_id} finished already; its report is in "
                                       f"{out_dir}")
        _finish(execute(checkpoint.plan, settings, out_dir, resume=checkpoint), out_dir,
                as_json)
        return
    if not start:
        raise click.UsageError("say where to start: --from 2026-11-20T08:00Z (or --from 2d), "
                               "or --resume RUN_ID")
    plan = _plan(settings, start, end, archive, feeds=list(feeds),
                 subscriptions=list(subscriptions), deliver=deliver, rate=rate)
    out_dir = _out_dir(settings, report_dir, plan.run_id)
    click.echo(f"replay {plan.run_id}: {plan.start} to {plan.end or 'now'}, "
               f"{'delivering' if deliver else 'dry run'}; Ctrl-C stops (resumable)", err=True)
    _finish(execute(plan, settings, out_dir), out_dir, as_json)


def backtest(subscription_id: str, start: str, end: str | None,
             archive: Path | None) -> tuple[Report, Path]:
    """What one subscription would have sent over a window: a dry-run replay's report."""
    settings = load_settings()
    plan = _plan(settings, start, end, archive, subscriptions=[subscription_id])
    out_dir = _out_dir(settings, None, plan.run_id)
    report = execute(plan, settings, out_dir)
    write_report(report, out_dir)
    return report, out_dir
