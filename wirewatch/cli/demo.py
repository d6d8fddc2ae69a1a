"""`wirewatch demo`: the whole pipeline on bundled sample feeds served on loopback."""

from __future__ import annotations

import secrets
import socket
import tempfile
from pathlib import Path

import click
from pydantic import SecretStr

from wirewatch.cli.common import allow_network_option, load_settings, run_guarded
from wirewatch.cli.roles import announce
from wirewatch.streams.embedded import free_port


@click.command()
@click.option("--exit-after-alerts", type=click.IntRange(min=1), default=None,
              help="Exit 0 once this many alerts were delivered (for tests and scripts).")
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Keep the demo's Redis here (default: a temporary directory).")
@allow_network_option
def demo(exit_after_alerts: int | None, data_dir: Path | None,
         allow_networks: tuple[str, ...]) -> None:
    """Serve bundled sample feeds locally and run the whole pipeline on them."""
    from wirewatch.streams.demo import demo_feeds, demo_subscriptions, serve_samples
    from wirewatch.streams.runner import run_pipeline, stop_after

    hook = stop_after(exit_after_alerts) if exit_after_alerts else None
    with tempfile.TemporaryDirectory(prefix="wirewatch-demo-") as scratch, \
            serve_samples() as base_url:
        defaults = load_settings()
        current = load_settings(
            data_dir=data_dir or Path(scratch),
            # its sample feeds are served on loopback; feeds added with `feeds add` may need more
            fetch_allow_networks=[*defaults.fetch_allow_networks, "127.0.0.0/8",
                                  *allow_networks],
            poll_min_seconds=5.0,
            web_port=defaults.web_port if _port_is_free(defaults.web_port) else free_port(),
        )
        click.echo(f"wirewatch demo: sample feeds at {base_url}/", err=True)
        if current.web_token is None:  # the demo's pages can be logged in to all the same
            current.web_token = SecretStr(secrets.token_urlsafe(12))
            click.echo(f"wirewatch demo: log in at http://{current.web_host}:"
                       f"{current.web_port}/login with the web token "
                       f"{current.web_token.get_secret_value()}", err=True)
        run_guarded(lambda: run_pipeline(current, feeds=demo_feeds(base_url),
                                         subscriptions=demo_subscriptions(),
                                         on_delivered=hook, announce=announce))


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
