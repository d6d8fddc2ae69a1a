"""`wirewatch subscriptions ...`: manage who gets which alerts (kept in Redis, live)."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import redis.asyncio as aioredis
import yaml

from wirewatch.alerts.channels import load_channels
from wirewatch.alerts.errors import AlertsError
from wirewatch.alerts.probe import send_test_alert, trial_match
from wirewatch.alerts.store import MUTE_KINDS, SubscriptionStore
from wirewatch.alerts.subscriptions import (
    MODES,
    NEW_PER,
    PER,
    Schedule,
    Subscription,
    check_channels,
    check_terms,
    load_subscriptions,
)
from wirewatch.cli.api_client import api_key, call, silence_path, subscription_path
from wirewatch.cli.common import Group, confirm_removal, load_settings, with_redis
from wirewatch.cli.output import Column, Output, iso_time, output_options
from wirewatch.streams.replay.window import parse_duration
from wirewatch.streams.settings import Settings


def parse_until(duration: str | None, until: str | None, now: datetime) -> datetime:
    """The end of a silence from `--for 2h30m` or `--until 2026-12-01T09:00+01:00`."""
    if until:
        try:
            moment = datetime.fromisoformat(until)
        except ValueError as exc:
            raise click.BadParameter(f"{until!r} is not an ISO time", param_hint="--until") from exc
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if duration:
        length = parse_duration(duration)
        if length is None:
            raise click.BadParameter(f"{duration!r}: write e.g. 30m, 2h, 1d12h",
                                     param_hint="--for")
        return now + length
    raise click.UsageError("say how long: --for 2h or --until 2026-12-01T09:00+01:00")


def _redis_only() -> None:
    """Refuse, with a key set, the commands that need Redis itself (an operator's tools)."""
    if api_key(load_settings()):
        raise click.ClickException("this command reads and writes Redis directly (an "
                                   "operator's tool): unset WIREWATCH_API_KEY to run it")


def _store(client: aioredis.Redis, settings: Settings) -> SubscriptionStore:
    return SubscriptionStore(client, prefix=settings.redis_prefix)


def _known_channels(settings: Settings) -> frozenset[str]:
    return load_channels(settings.channels_file).ids


@click.group(cls=Group)
def subscriptions() -> None:
    """Subscriptions: a query, channels and a schedule (shared by every worker, live)."""


@subscriptions.command("add")
@click.argument("name")
@click.option("--query", "-q", required=True,
              help='e.g. "entity:openai AND topic:leadership-change AND NOT source:x.com"')
@click.option("--owner", default="", help="Who it belongs to.")
@click.option("--channel", "channels", multiple=True,
              help="Channel id from the channels file (repeatable; default console).")
@click.option("--id", "subscription_id", help="Id (default: from the name).")
@click.option("--mode", type=click.Choice(MODES), default="immediate", show_default=True)
@click.option("--at", default="08:00", show_default=True, help="Daily digest time (local).")
@click.option("--timezone", default="UTC", show_default=True, help="IANA zone, e.g. Europe/Paris")
@click.option("--quiet", help="Quiet hours, local: 22:00-07:00.")
@click.option("--rate-cap", type=int, help="At most this many alerts an hour.")
@click.option("--min-salience", type=float, default=0.0, show_default=True,
              help="Ignore entities mentioned below this salience (0.7: title or lead).")
@click.option("--group-wait", type=float, default=0.0, show_default=True,
              help="Seconds to wait so a burst goes out as one message (0: off).")
@click.option("--group-interval", type=float, default=300.0, show_default=True,
              help="With --group-wait: at most one grouped message per this many seconds.")
@click.option("--per", type=click.Choice(PER), default=NEW_PER, show_default=True,
              help="One alert per event (later stories thread as updates) or per story.")
@click.option("--update-after-stories", type=click.IntRange(min=1), default=3,
              show_default=True, help="Per event: an update once this many more stories join.")
def add(name: str, query: str, owner: str, channels: tuple[str, ...],
        subscription_id: str | None, mode: str, at: str, timezone: str, quiet: str | None,
        rate_cap: int | None, min_salience: float, group_wait: float,
        group_interval: float, per: str, update_after_stories: int) -> None:
    """Add or replace a subscription."""
    quiet_hours = None
    if quiet:
        start, _, end = quiet.partition("-")
        quiet_hours = (start.strip(), end.strip())
    try:
        subscription = Subscription.create(
            name=name, owner=owner, query=query, channels=channels or ("console",),
            id=subscription_id, min_salience=min_salience, per=per,
            update_after_stories=update_after_stories,
            schedule=Schedule(mode=mode, at=at, timezone=timezone, quiet_hours=quiet_hours,
                              rate_cap_per_hour=rate_cap, group_wait_seconds=group_wait,
                              group_interval_seconds=group_interval))
        settings = load_settings()
        if api_key(settings):  # the API checks channels and terms, and sets the owner
            document = subscription.to_dict()
            if not owner:
                document.pop("owner", None)
            existed = call(settings, "GET", subscription_path(subscription.id),
                           missing_ok=True) is not None
            call(settings, "PUT", subscription_path(subscription.id), document)
            click.echo(f"{'replaced' if existed else 'added'} subscription {subscription.id}")
            return
        check_channels([subscription], _known_channels(settings))
        check_terms([subscription], settings.tagger_source().vocabulary())
    except AlertsError as exc:
        raise click.ClickException(str(exc)) from exc
    created = with_redis(lambda c, s: _store(c, s).save(subscription))
    click.echo(f"{'added' if created else 'replaced'} subscription {subscription.id}")


@subscriptions.command("list")
@output_options()
def list_subscriptions(out: Output) -> None:
    """Every subscription (with WIREWATCH_API_KEY: every one that key's user may see)."""
    settings = load_settings()
    rows = call(settings, "GET", subscription_path()) if api_key(settings) else [
        subscription.to_dict() for subscription in with_redis(lambda c, s: _store(c, s).list())]
    out.rows(rows, [
        Column("id", "id"), Column("name", "name"), Column("owner", "owner"),
        Column("channels", "channels", show=", ".join),
        Column("schedule", "mode", show=lambda schedule: schedule["mode"]),
        Column("per", "per"), Column("query", "query")], empty="no subscriptions")


@subscriptions.command("show")
@click.argument("subscription_id")
def show(subscription_id: str) -> None:
    """One subscription as YAML."""
    document = _fetch(subscription_id)
    if document is None:
        raise click.ClickException(f"no subscription {subscription_id!r}")
    click.echo(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), nl=False)


def _fetch(subscription_id: str) -> dict[str, Any] | None:
    """The subscription as a mapping, through the API with a key, else from Redis."""
    settings = load_settings()
    if api_key(settings):
        found: dict[str, Any] | None = call(settings, "GET", subscription_path(subscription_id),
                                            missing_ok=True)
        return found
    stored = with_redis(lambda c, s: _store(c, s).get(subscription_id))
    return None if stored is None else stored.to_dict()


@subscriptions.command("remove")
@click.argument("subscription_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask first.")
def remove(subscription_id: str, yes: bool) -> None:
    """Remove a subscription (its alerts already sent stay in the ledger)."""
    found = _fetch(subscription_id)
    if found is None:
        raise click.ClickException(f"no subscription {subscription_id!r}")
    confirm_removal(f"subscription {found['id']} ({found['name']}: {found['query']})", yes)
    settings = load_settings()
    if api_key(settings):
        call(settings, "DELETE", subscription_path(subscription_id))
    elif not with_redis(lambda c, s: _store(c, s).remove(subscription_id)):
        raise click.ClickException(f"no subscription {subscription_id!r}")
    click.echo(f"removed subscription {subscription_id}")


@subscriptions.command("mute")
@click.argument("kind", type=click.Choice(MUTE_KINDS))
@click.argument("value")
@click.option("--for", "duration", help="How long: 30m, 2h, 1d12h.")
@click.option("--until", help="Until an ISO time, e.g. 2026-12-01T09:00+01:00.")
@click.option("--comment", "-m", default="", help="Why (shown on the silences page).")
def mute(kind: str, value: str, duration: str | None, until: str | None, comment: str) -> None:
    """Silence a subscription, an entity, a story or a source until a time."""
    end = parse_until(duration, until, datetime.now(UTC))
    by = f"cli:{getpass.getuser()}"
    settings = load_settings()
    if api_key(settings):  # the API records the key's user as who set it
        call(settings, "POST", silence_path(), {"kind": kind, "value": value,
                                                "until": end.isoformat(), "comment": comment,
                                                "created_by": by})
    else:
        with_redis(lambda c, s: _store(c, s).mute(kind, value, end, created_by=by,
                                                  comment=comment))
    click.echo(f"muted {kind} {value} until {end.isoformat(timespec='minutes')}")


@subscriptions.command("unmute")
@click.argument("kind", type=click.Choice(MUTE_KINDS))
@click.argument("value")
def unmute(kind: str, value: str) -> None:
    """Lift a silence."""
    settings = load_settings()
    if api_key(settings):
        active = call(settings, "GET", silence_path())
        lifted = any(f["kind"] == kind and f["value"] == value for f in active)
        if lifted:
            call(settings, "DELETE", silence_path(kind, value))
    else:
        lifted = with_redis(lambda c, s: _store(c, s).unmute(kind, value))
    if not lifted:
        raise click.ClickException(f"{kind} {value} is not muted")
    click.echo(f"unmuted {kind} {value}")


@subscriptions.command("silences")
@output_options()
def silences(out: Output) -> None:
    """Active silences: what, until when, who set them and why."""
    settings = load_settings()
    rows = call(settings, "GET", silence_path()) if api_key(settings) else [
        {"kind": f.kind, "value": f.value, "until": iso_time(f.until),
         "created_by": f.created_by, "comment": f.comment, "created": iso_time(f.created)}
        for f in with_redis(lambda c, s: _store(c, s).silence_list())]
    out.rows(rows, [
        Column("kind", "kind"), Column("value", "what"), Column("until", "until"),
        Column("created_by", "by"), Column("comment", "why")], empty="no silences")


@subscriptions.command("import")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
def import_subscriptions(path: Path) -> None:
    """Add or replace the subscriptions of a YAML file (`subscriptions:` list)."""
    _redis_only()
    try:
        loaded = load_subscriptions(path)
        settings = load_settings()
        check_channels(loaded, _known_channels(settings))
        check_terms(loaded, settings.tagger_source().vocabulary())
    except AlertsError as exc:
        raise click.ClickException(str(exc)) from exc

    async def save_all(client: aioredis.Redis, settings: Settings) -> int:
        store = _store(client, settings)
        return sum([await store.save(subscription) for subscription in loaded])

    created = with_redis(save_all)
    click.echo(f"imported {len(loaded)} subscriptions ({created} new)")


@subscriptions.command("export")
@click.option("-o", "--output", type=click.File("w"), default="-")
def export(output: Any) -> None:
    """All subscriptions as YAML (what `import` reads)."""
    _redis_only()
    found = with_redis(lambda c, s: _store(c, s).list())
    yaml.safe_dump({"subscriptions": [s.to_dict() for s in found]}, output, sort_keys=False,
                   allow_unicode=True)


@subscriptions.command("test")
@click.argument("subscription_id")
@click.option("--title", default="wirewatch test alert", show_default=True)
@click.option("--body", default="", help="Article text to tag and match.")
@click.option("--send", is_flag=True, help="Also send a test alert to each of its channels.")
def test(subscription_id: str, title: str, body: str, send: bool) -> None:
    """Would this article match? With --send, check every channel delivers."""
    _redis_only()
    settings = load_settings()
    found = with_redis(lambda c, s: _store(c, s).get(subscription_id))
    if found is None:
        raise click.ClickException(f"no subscription {subscription_id!r}")
    tags = settings.tagger_source().current().tag(title, body)
    held = trial_match(found, title, tags.topics, {e.id: e.salience for e in tags.entities})
    click.echo(json.dumps({"matches": held is not None, "because": held or [],
                           "topics": tags.topics,
                           "entities": [e.id for e in tags.entities]}))
    if send:
        outcomes = asyncio.run(send_test_alert(
            found, title, load_channels(settings.channels_file),
            dashboard_url=settings.dashboard_url, slack_api_url=settings.slack_api_url))
        for channel, outcome in outcomes.items():
            click.echo(f"{channel}: {outcome}")
        if any(outcome != "sent" for outcome in outcomes.values()):
            sys.exit(1)


@subscriptions.command("backtest")
@click.argument("subscription_id")
@click.option("--from", "start", required=True,
              help="Start: ISO time, a date, or an age such as 7d.")
@click.option("--to", "end", default=None, help="End (exclusive); default: the newest record.")
@click.option("--from-archive", "archive", type=click.Path(path_type=Path, file_okay=False,
              exists=True), default=None, help="Read an archive directory instead of Kafka.")
@click.option("--json", "as_json", is_flag=True, help="Print the matches as JSON lines.")
def backtest_command(subscription_id: str, start: str, end: str | None, archive: Path | None,
                     as_json: bool) -> None:
    """What this subscription would have sent over a window (a dry run: nothing is sent)."""
    _redis_only()
    from wirewatch.cli.replay import backtest

    report, out_dir = backtest(subscription_id, start, end, archive)
    for match in report.matches:
        if as_json:
            click.echo(json.dumps({"time": match.time, "story_id": match.story_id,
                                   "event_id": match.event_id, "title": match.title,
                                   "url": match.url,
                                   "source": match.source, "because": match.because,
                                   "already_sent": match.already_sent}, ensure_ascii=False))
        else:
            sent = "  (sent live)" if match.already_sent else ""
            click.echo(f"{match.time}  {match.title}  <{match.url}>{sent}\n"
                       f"    because {', '.join(match.because)}"
                       + (f"; event {match.event_id}" if match.event_id else ""))
    if not as_json:
        click.echo(f"{len(report.matches)} alert(s) from {report.counts['articles']:,} "
                   f"articles in {report.counts.get('events', 0):,} events; report: "
                   f"{out_dir / 'report.md'}", err=True)
