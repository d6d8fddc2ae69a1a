"""`wirewatch feeds ...`: manage the feed registry in Redis and check a feed by hand."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import click
import msgspec
import redis.asyncio as aioredis

from wirewatch.cli.common import (
    Group,
    allow_network_option,
    allowing,
    confirm_removal,
    load_settings,
    with_redis,
)
from wirewatch.cli.output import Column, Output, iso_time, output_options
from wirewatch.connectors.check import check_feed
from wirewatch.connectors.errors import ConnectorError
from wirewatch.connectors.extract import word_count
from wirewatch.connectors.feeds_file import (
    FULL_TEXT_MODES,
    FeedSpec,
    load_feeds,
    spec_from_mapping,
    to_opml,
    unique_feeds,
)
from wirewatch.connectors.fetch import FetchLimits
from wirewatch.connectors.guard import AddressPolicy
from wirewatch.connectors.registry import FeedRegistry, feed_id_of
from wirewatch.connectors.state import FeedStateStore
from wirewatch.streams.ops.monitor import FeedRow, feed_rows
from wirewatch.streams.ops.when import ago
from wirewatch.streams.settings import Settings

T = TypeVar("T")


def with_registry(action: Callable[[FeedRegistry], Awaitable[T]]) -> T:
    """Run `action` against the configured (or embedded) Redis's feed registry."""
    return with_redis(lambda client, settings: action(FeedRegistry(client, settings.redis_prefix)))


@click.group(cls=Group)
def feeds() -> None:
    """Manage the feeds wirewatch polls (kept in Redis, merged with WIREWATCH_FEEDS_FILE)."""


@feeds.command("list")
@output_options()
def list_feeds(out: Output) -> None:
    """The feeds polled: the registry's and the feeds file's (marked), with their health."""

    async def listing(client: aioredis.Redis,
                      settings: Settings) -> list[tuple[str, FeedSpec, FeedRow]]:
        registered = await FeedRegistry(client, settings.redis_prefix).list()
        in_file = load_feeds(settings.feeds_file) if settings.feeds_file else []
        registered_ids = {spec.feed_id for spec in registered}
        specs = unique_feeds(registered + in_file)
        rows = await feed_rows(specs, FeedStateStore(client, settings.redis_prefix),
                               FeedRegistry(client, settings.redis_prefix), time.time())
        return [("registry" if spec.feed_id in registered_ids else "file", spec, row)
                for spec, row in zip(specs, rows, strict=True)]

    try:
        listed = with_redis(listing)
    except ConnectorError as exc:
        raise click.ClickException(str(exc)) from exc
    rows = [{"id": spec.feed_id, "url": spec.url, "name": spec.name,
             "interval_seconds": spec.interval_seconds, "full_text": spec.full_text,
             "source": origin,
             "health": row.state, "last_status": row.last_status,
             "last_success": iso_time(row.last_success), "last_error": row.last_error,
             "error_streak": row.error_streak, "items_per_day": row.items_per_day}
            for origin, spec, row in listed]
    out.rows(rows, [
        Column("id", "id"), Column("source", "source"),
        Column("health", "health", style=lambda state: HEALTH_STYLES.get(state, "")),
        Column("url", "url"), Column("name", "name"),
        Column("error_streak", "streak", numeric=True),
        Column("items_per_day", "items/day", numeric=True),
        Column("last_success", "last success", show=_ago),
        Column("last_error", "last error", show=lambda e: e or "")])
    if out.table:
        click.echo(f"{len(rows)} feed(s)", err=True)


HEALTH_STYLES = {"ok": "green", "erroring": "yellow", "failing": "bold red", "new": "cyan"}


def _ago(moment: str | None) -> str:
    return ago(datetime.fromisoformat(moment).timestamp() if moment else None)


@feeds.command("add")
@click.argument("url")
@click.option("--name", default="", help="Display name (default: the host name).")
@click.option("--interval", type=float, default=None, help="Fixed poll interval in seconds.")
@click.option("--full-text", type=click.Choice(FULL_TEXT_MODES), default="auto",
              show_default=True,
              help="Fetch each item's article page for its full text: auto (when the feed's "
                   "text is shorter than WIREWATCH_FULL_TEXT_MIN_WORDS), always or never.")
@click.option("--dry-run", is_flag=True, help="Validate only; change nothing.")
def add_feed(url: str, name: str, interval: float | None, full_text: str,
             dry_run: bool) -> None:
    """Register a feed by URL."""
    try:
        spec = spec_from_mapping({"url": url, "name": name, "interval_seconds": interval,
                                  "full_text": full_text}, "feed")
    except ConnectorError as exc:
        raise click.ClickException(str(exc)) from exc
    if dry_run:
        click.echo(f"would add {spec.feed_id}  {spec.url}")
        return
    added = with_registry(lambda registry: registry.add([spec]))
    click.echo(f"{'added' if added else 'updated'} {spec.feed_id}  {spec.url}")


@feeds.command("remove")
@click.argument("url_or_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask first.")
def remove_feed(url_or_id: str, yes: bool) -> None:
    """Unregister a feed by URL or id."""
    found = with_registry(lambda registry: registry.find(url_or_id))
    if found is None:
        raise click.ClickException(f"no registered feed {url_or_id!r}")
    confirm_removal(f"feed {found.name or found.feed_id} ({found.url})", yes)
    if not with_registry(lambda registry: registry.remove(url_or_id)):
        raise click.ClickException(f"no registered feed {url_or_id!r}")
    click.echo(f"removed {url_or_id}")


def known_feed(url_or_id: str) -> FeedSpec:
    """The feed by URL or id, from the feeds file or the registry; else a usage error."""
    settings = load_settings()
    wanted = feed_id_of(url_or_id)
    in_file = load_feeds(settings.feeds_file) if settings.feeds_file else []
    found = next((spec for spec in in_file if spec.feed_id == wanted), None) or with_registry(
        lambda registry: registry.find(wanted))
    if found is None:
        raise click.ClickException(f"no feed {url_or_id!r} in the registry or the feeds file "
                                   "(see wirewatch feeds list)")
    return found


@feeds.command("disable")
@click.argument("url_or_id")
def disable_feed(url_or_id: str) -> None:
    """Stop polling a feed (the registry's or the feeds file's) until it is enabled again."""
    spec = known_feed(url_or_id)
    changed = with_registry(lambda registry: registry.disable(spec.feed_id))
    click.echo(f"disabled {spec.url}" if changed else f"{spec.url} was already disabled")


@feeds.command("enable")
@click.argument("url_or_id")
def enable_feed(url_or_id: str) -> None:
    """Poll a disabled feed again."""
    spec = known_feed(url_or_id)
    changed = with_registry(lambda registry: registry.enable(spec.feed_id))
    click.echo(f"enabled {spec.url}" if changed else f"{spec.url} was not disabled")


@feeds.command("poll")
@click.argument("url_or_id")
def poll_feed(url_or_id: str) -> None:
    """Poll a feed at the connector's next tick, whatever its schedule or backoff."""
    spec = known_feed(url_or_id)
    if spec.feed_id in with_registry(lambda registry: registry.disabled()):
        raise click.ClickException(f"{spec.url} is disabled: wirewatch feeds enable it first")
    with_redis(lambda client, settings: FeedStateStore(
        client, settings.redis_prefix).poll_soon(spec.feed_id))
    click.echo(f"{spec.url} is due now: a running connector polls it within a second")


@feeds.command("import")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Show what would be imported; change nothing.")
@click.option("--lenient", is_flag=True,
              help="Warn about keys an entry does not know and import the rest, instead of "
                   "refusing the file.")
def import_feeds(path: Path, dry_run: bool, lenient: bool) -> None:
    """Import feeds from OPML (.opml/.xml) or a YAML feeds file."""
    try:
        specs = load_feeds(path, lenient=lenient)
    except ConnectorError as exc:
        raise click.ClickException(str(exc)) from exc
    if dry_run:
        for spec in specs:
            click.echo(f"would add {spec.feed_id}  {spec.url}")
        return
    added = with_registry(lambda registry: registry.add(specs))
    click.echo(f"imported {len(specs)} feed(s), {added} new")


@feeds.command("export")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write OPML here (default: standard output).")
def export_feeds(output: Path | None) -> None:
    """Export registered feeds as OPML."""
    specs: list[FeedSpec] = with_registry(lambda registry: registry.list())
    document = to_opml(specs)
    if output:
        output.write_text(document, encoding="utf-8")
        click.echo(f"exported {len(specs)} feed(s) to {output}", err=True)
    else:
        click.echo(document, nl=False)


@feeds.command("check")
@click.argument("url")
@click.option("--full-text", type=click.Choice(("auto", "always")), is_flag=False,
              flag_value="auto", default=None,
              help="Also fetch the items' article pages (robots.txt and pacing as the "
                   "connector does) and show which text each item got: auto (the default "
                   "of the option: items shorter than WIREWATCH_FULL_TEXT_MIN_WORDS) or "
                   "always.")
@allow_network_option
def check(url: str, full_text: str | None, allow_networks: tuple[str, ...]) -> None:
    """Fetch and parse one feed; print its items as JSON lines, publish nothing."""
    settings = allowing(load_settings(), allow_networks)
    policy = AddressPolicy(settings.fetch_allow_networks)
    limits = FetchLimits(deadline_seconds=settings.fetch_deadline_seconds,
                         max_body_bytes=settings.fetch_max_body_bytes)
    try:
        result = asyncio.run(check_feed(
            url, policy=policy, limits=limits, full_text=full_text or "never",
            min_words=settings.full_text_min_words, rate=settings.full_text_host_rate))
    except ConnectorError as exc:
        raise click.ClickException(f"{url}: {exc}") from exc
    for item in result.items:
        sys.stdout.buffer.write(msgspec.json.encode(item) + b"\n")
    sys.stdout.flush()
    for item in result.items:
        if item.item_id in result.pages:
            click.echo(f"  {item.title[:60]!r}: page {result.pages[item.item_id]}, text from "
                       f"the {item.text_source} ({word_count(item.content or item.summary)} "
                       "words)", err=True)
    parsed = result.parsed
    click.echo(f"{url}: HTTP {result.fetch.status}, {len(result.items)} item(s), "
               f"title {parsed.title!r}" + (f", error: {parsed.error}" if parsed.error else ""),
               err=True)
    if result.fetch.status != 200 or (parsed.error and not result.items):
        sys.exit(1)
