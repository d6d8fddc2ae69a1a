"""The root `wirewatch` command: logging, signals and the event loop, then the subcommands."""

from __future__ import annotations

import signal

import click

from wirewatch.cli.archive import archive
from wirewatch.cli.common import Group
from wirewatch.cli.config import config
from wirewatch.cli.demo import demo
from wirewatch.cli.dlq import dlq
from wirewatch.cli.eval import eval_group
from wirewatch.cli.feeds import feeds
from wirewatch.cli.replay import replay
from wirewatch.cli.roles import connect, deliver, run, web, worker
from wirewatch.cli.schemas import schemas
from wirewatch.cli.status import status
from wirewatch.cli.subscriptions import subscriptions
from wirewatch.cli.tail import tail
from wirewatch.cli.taxonomy import taxonomy
from wirewatch.cli.users import users
from wirewatch.cli.version import version
from wirewatch.cli.watchlist import watchlist
from wirewatch.streams.eventloop import EventLoopError, install
from wirewatch.streams.logs import configure_logging


class Root(Group):
    sections = (
        ("Start", ("run", "demo")),
        ("Cluster roles", ("connect", "worker", "deliver", "web")),
        ("Configure", ("feeds", "subscriptions", "users", "watchlist", "taxonomy", "config")),
        ("Inspect and recover", ("status", "tail", "replay", "archive", "dlq", "eval",
                                 "schemas", "version")),
    )


@click.group(cls=Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wirewatch", prog_name="wirewatch",
                      message="%(prog)s %(version)s")
def main() -> None:
    """wirewatch: one alert per news story, however many sites republish it."""
    configure_logging()  # until a command reads the settings' level and format
    # Until the worker installs its own handlers, SIGTERM unwinds like Ctrl-C does, so the
    # embedded services are stopped by their context managers rather than left behind.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        install()  # before any command creates a loop: every role and replay run on it
    except EventLoopError as exc:
        raise click.ClickException(str(exc)) from exc


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


for command in (run, demo, connect, worker, deliver, web, feeds, subscriptions, users,
                watchlist, taxonomy, status, tail, replay, archive, dlq, eval_group, config,
                schemas, version):
    main.add_command(command)
