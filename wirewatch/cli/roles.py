"""`wirewatch run` and the cluster roles: `connect`, `worker`, `deliver`, `web`."""

from __future__ import annotations

from pathlib import Path

import click

from wirewatch.cli.common import allow_network_option, allowing, load_settings, run_guarded
from wirewatch.streams.embedded import Endpoints
from wirewatch.streams.settings import Settings

_FEEDS = click.option(
    "--feeds", "feeds_file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Feeds file (YAML or OPML); overrides WIREWATCH_FEEDS_FILE.")
_SUBSCRIPTIONS = click.option(
    "--subscriptions", "subscriptions_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Subscriptions YAML; overrides WIREWATCH_SUBSCRIPTIONS_FILE.")


def announce(endpoints: Endpoints, current: Settings) -> None:
    """Say on stderr where Kafka, Redis and the web pages are."""
    base = f"http://{current.web_host}:{current.web_port}"
    kafka = "embedded Tansu" if endpoints.embedded_kafka else "external Kafka"
    redis = "embedded redis-server" if endpoints.embedded_redis else "external Redis"
    click.echo(f"wirewatch: Kafka {endpoints.kafka_bootstrap} ({kafka}), Redis {redis}", err=True)
    click.echo(f"wirewatch: web {base}/  metrics {base}/metrics  (Ctrl-C stops)", err=True)


@click.command()
@_FEEDS
@_SUBSCRIPTIONS
@allow_network_option
@click.option("--exit-after-alerts", type=click.IntRange(min=1), default=None,
              help="Exit 0 once this many alerts were delivered.")
def run(feeds_file: Path | None, subscriptions_file: Path | None,
        allow_networks: tuple[str, ...], exit_after_alerts: int | None) -> None:
    """Run connectors, stream worker and notifiers on your feeds and subscriptions."""
    from wirewatch.streams.runner import run_pipeline, stop_after

    current = allowing(load_settings(feeds_file=feeds_file,
                                     subscriptions_file=subscriptions_file), allow_networks)
    hook = stop_after(exit_after_alerts) if exit_after_alerts else None
    run_guarded(lambda: run_pipeline(current, on_delivered=hook, announce=announce))


@click.command()
@_FEEDS
@click.option("--shard", default=None, help="This instance's share of the feeds, I/N or "
              "ordinal/N; overrides WIREWATCH_SHARD.")
@allow_network_option
def connect(feeds_file: Path | None, shard: str | None,
            allow_networks: tuple[str, ...]) -> None:
    """Cluster role: poll this shard of the feeds (file and registry) and publish them."""
    from wirewatch.streams.roles import run_connect

    run_guarded(lambda: run_connect(allowing(load_settings(feeds_file=feeds_file, shard=shard),
                                             allow_networks)))


@click.command()
@_SUBSCRIPTIONS
def worker(subscriptions_file: Path | None) -> None:
    """Cluster role: the stream worker (normalise, dedupe, tag, match, deliver)."""
    from wirewatch.streams.runner import run_pipeline

    current = load_settings(subscriptions_file=subscriptions_file)
    run_guarded(lambda: run_pipeline(current, feeds=[], announce=announce, worker_only=True))


@click.command()
def deliver() -> None:
    """Cluster role: send the alerts stream workers queue (WIREWATCH_WORKER_DELIVERS=false)."""
    from wirewatch.streams.roles import run_deliver

    run_guarded(lambda: run_deliver(load_settings()))


@click.command()
def web() -> None:
    """Cluster role: the dashboard, subscription pages and subscriptions API."""
    from wirewatch.streams.roles import run_web

    run_guarded(lambda: run_web(load_settings()))
