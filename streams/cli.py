"""The `wirewatch` command line: run, demo, config, schemas."""

from __future__ import annotations

import json
import logging
import secrets
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import click
from pydantic import SecretStr, ValidationError

from alerts.errors import AlertsError
from connectors.errors import ConnectorError
from streams.cli_archive import archive
from streams.cli_dlq import dlq
from streams.cli_eval import eval_group
from streams.cli_feeds import feeds
from streams.cli_replay import replay
from streams.cli_status import status
from streams.cli_subscriptions import subscriptions
from streams.cli_tagging import taxonomy, watchlist
from streams.embedded import EmbeddedServiceError, Endpoints, RoleError, free_port
from streams.eventloop import EventLoopError, install
from streams.settings import Settings
from streams.tagging import TaxonomyError

# Errors that mean "your input is wrong", shown as one clear line, never as a traceback.
_USER_ERRORS = (AlertsError, ConnectorError, TaxonomyError, EmbeddedServiceError, RoleError)


def _settings(**overrides: object) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise click.ClickException(f"invalid settings:\n{exc}") from exc


def _announce(endpoints: Endpoints, settings: Settings) -> None:
    base = f"http://{settings.web_host}:{settings.web_port}"
    kafka = "embedded Tansu" if endpoints.embedded_kafka else "external Kafka"
    redis = "embedded redis-server" if endpoints.embedded_redis else "external Redis"
    click.echo(f"wirewatch: Kafka {endpoints.kafka_bootstrap} ({kafka}), Redis {redis}", err=True)
    click.echo(f"wirewatch: web {base}/  metrics {base}/metrics  (Ctrl-C stops)", err=True)


@click.group()
def main() -> None:
    """wirewatch: one alert per news story, however many sites republish it."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s "
                        "%(message)s")
    # Until the worker installs its own handlers, SIGTERM unwinds like Ctrl-C does, so the
    # embedded services are stopped by their context managers rather than left behind.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        install()  # before any command creates a loop: every role and replay run on it
    except EventLoopError as exc:
        raise click.ClickException(str(exc)) from exc


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _run_guarded(start: Callable[[], int]) -> None:
    """Run a pipeline, turning input errors into one clear line and Ctrl-C into exit 130."""
    try:
        code = start()
    except _USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        click.echo("wirewatch: interrupted", err=True)
        code = 130
    sys.exit(code)


@main.command()
@click.option("--feeds", "feeds_file", type=click.Path(path_type=Path, exists=True,
              dir_okay=False), help="Feeds file (YAML or OPML); overrides WIREWATCH_FEEDS_FILE.")
@click.option("--subscriptions", "subscriptions_file", type=click.Path(path_type=Path,
              exists=True, dir_okay=False), help="Subscriptions YAML; overrides "
              "WIREWATCH_SUBSCRIPTIONS_FILE.")
@click.option("--exit-after-alerts", type=click.IntRange(min=1), default=None,
              help="Exit 0 once this many alerts were delivered.")
def run(feeds_file: Path | None, subscriptions_file: Path | None,
        exit_after_alerts: int | None) -> None:
    """Run connectors, stream worker and notifiers on your feeds and subscriptions."""
    from streams.runner import run_pipeline, stop_after

    settings = _settings(feeds_file=feeds_file, subscriptions_file=subscriptions_file)
    hook = stop_after(exit_after_alerts) if exit_after_alerts else None
    _run_guarded(lambda: run_pipeline(settings, on_delivered=hook, announce=_announce))


@main.command()
@click.option("--feeds", "feeds_file", type=click.Path(path_type=Path, exists=True,
              dir_okay=False), help="Feeds file (YAML or OPML); overrides WIREWATCH_FEEDS_FILE.")
@click.option("--shard", default=None, help="This instance's share of the feeds, I/N or "
              "ordinal/N; overrides WIREWATCH_SHARD.")
def connect(feeds_file: Path | None, shard: str | None) -> None:
    """Cluster role: poll this shard of the feeds (file and registry) and publish them."""
    from streams.roles import run_connect

    _run_guarded(lambda: run_connect(_settings(feeds_file=feeds_file, shard=shard)))


@main.command()
@click.option("--subscriptions", "subscriptions_file", type=click.Path(path_type=Path,
              exists=True, dir_okay=False), help="Subscriptions YAML; overrides "
              "WIREWATCH_SUBSCRIPTIONS_FILE.")
def worker(subscriptions_file: Path | None) -> None:
    """Cluster role: the stream worker (normalise, dedupe, tag, match, deliver)."""
    from streams.runner import run_pipeline

    settings = _settings(subscriptions_file=subscriptions_file)
    _run_guarded(lambda: run_pipeline(settings, feeds=[], announce=_announce,
                                      worker_only=True))


@main.command()
def deliver() -> None:
    """Cluster role: send the alerts stream workers queue (WIREWATCH_WORKER_DELIVERS=false)."""
    from streams.roles import run_deliver

    _run_guarded(lambda: run_deliver(_settings()))


@main.command()
def web() -> None:
    """Cluster role: the dashboard, subscription pages and subscriptions API."""
    from streams.roles import run_web

    _run_guarded(lambda: run_web(_settings()))


@main.command()
@click.option("--exit-after-alerts", type=click.IntRange(min=1), default=None,
              help="Exit 0 once this many alerts were delivered (for tests and scripts).")
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Keep the demo's Redis here (default: a temporary directory).")
def demo(exit_after_alerts: int | None, data_dir: Path | None) -> None:
    """Serve bundled sample feeds locally and run the whole pipeline on them."""
    from streams.demo import demo_feeds, demo_subscriptions, serve_samples
    from streams.runner import run_pipeline, stop_after

    hook = stop_after(exit_after_alerts) if exit_after_alerts else None
    with tempfile.TemporaryDirectory(prefix="wirewatch-demo-") as scratch, \
            serve_samples() as base_url:
        defaults = Settings()
        settings = _settings(
            data_dir=data_dir or Path(scratch),
            fetch_allow_networks=[*defaults.fetch_allow_networks, "127.0.0.0/8"],
            poll_min_seconds=5.0,
            web_port=defaults.web_port if _port_is_free(defaults.web_port) else free_port(),
        )
        click.echo(f"wirewatch demo: sample feeds at {base_url}/", err=True)
        if settings.web_token is None:  # the demo's pages can be logged in to all the same
            settings.web_token = SecretStr(secrets.token_urlsafe(12))
            click.echo(f"wirewatch demo: log in at http://{settings.web_host}:"
                       f"{settings.web_port}/login with the web token "
                       f"{settings.web_token.get_secret_value()}", err=True)
        _run_guarded(lambda: run_pipeline(settings, feeds=demo_feeds(base_url),
                                          subscriptions=demo_subscriptions(),
                                          on_delivered=hook, announce=_announce,
                                          demo=True))


def _port_is_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def config(as_json: bool) -> None:
    """Print the effective settings (secrets masked) and what each one does."""
    settings = _settings()
    values = settings.effective()
    if as_json:
        click.echo(json.dumps(values, indent=2, default=str))
        return
    descriptions = settings.describe()
    for name, value in values.items():
        env = f"WIREWATCH_{name.upper()}"
        click.echo(f"{env} = {json.dumps(value, default=str)}")
        click.echo(f"    {descriptions[name]}")
    from streams import native

    click.echo(f"# {native.describe()}")


main.add_command(feeds)
main.add_command(eval_group)
main.add_command(watchlist)
main.add_command(subscriptions)
main.add_command(taxonomy)
main.add_command(status)
main.add_command(replay)
main.add_command(archive)
main.add_command(dlq)


@main.command()
def schemas() -> None:
    """Print the JSON Schemas of the records on every public topic."""
    from streams.records import json_schemas

    click.echo(json.dumps(json_schemas(), indent=2))
