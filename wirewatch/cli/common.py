"""What every command shares: the settings, one-line errors, help that is not cut short,
running an action against the configured (or embedded) Redis, and finding the broker."""

from __future__ import annotations

import asyncio
import ipaddress
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
import redis.asyncio as aioredis
from pydantic import ValidationError

from wirewatch.alerts.errors import AlertsError
from wirewatch.connectors.errors import ConnectorError
from wirewatch.streams.embedded import (
    EmbeddedServiceError,
    RoleError,
    embedded_services,
    running_kafka,
)
from wirewatch.streams.logs import configure_logging
from wirewatch.streams.settings import Settings
from wirewatch.streams.tagging import TaxonomyError

T = TypeVar("T")

# Errors that mean "your input is wrong" (or a service is missing), shown as one clear line,
# never as a traceback.
USER_ERRORS = (AlertsError, ConnectorError, TaxonomyError, EmbeddedServiceError, RoleError)

# Wide enough for any one-line description: the listing wraps it rather than cut it.
_NO_LIMIT = 10_000


class Group(click.Group):
    """A command group that lists each command's whole first sentence (click cuts it to
    what fits on one line) and ends a user error as one line with exit 1."""

    group_class = type  # subgroups made with @group.group() are Groups too
    # Headed sections of the command listing, in order; commands in none come last.
    sections: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        listed = [name for name in self.list_commands(ctx)
                  if (command := self.get_command(ctx, name)) and not command.hidden]
        placed = {name for _, names in self.sections for name in names}
        rest = tuple(name for name in listed if name not in placed)
        width = max(map(len, listed), default=0)  # one column for every section
        for title, names in (*self.sections, ("Commands" if not self.sections else "Other", rest)):
            rows = [(name.ljust(width), command.get_short_help_str(_NO_LIMIT)) for name in names
                    if name in listed and (command := self.get_command(ctx, name))]
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            raise click.ClickException(str(exc)) from exc


def load_settings(**overrides: object) -> Settings:
    """The settings from the environment, with the command line's overrides (None: unset)."""
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as exc:
        raise click.ClickException(f"invalid settings:\n{exc}") from exc
    configure_logging(settings.log_level, settings.log_format)
    return settings


def run_guarded(start: Callable[[], int]) -> None:
    """Run a pipeline until it returns its exit code; Ctrl-C is exit 130."""
    try:
        code = start()
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        click.echo("wirewatch: interrupted", err=True)
        code = 130
    sys.exit(code)


def _networks(ctx: click.Context, param: click.Parameter,
              value: tuple[str, ...]) -> tuple[str, ...]:
    for entry in value:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError as exc:
            raise click.BadParameter(f"{entry!r} is not a network: write a CIDR such as "
                                     "127.0.0.0/8 or 192.168.1.0/24") from exc
    return value


allow_network_option = click.option(
    "--allow-network", "allow_networks", multiple=True, callback=_networks,
    help="Also fetch feeds from this private network (CIDR, repeatable), e.g. 127.0.0.0/8 "
         "for feeds on this machine; added to WIREWATCH_FETCH_ALLOW_NETWORKS.")


def allowing(settings: Settings, networks: tuple[str, ...]) -> Settings:
    """The settings with `--allow-network` networks added to the configured ones."""
    if not networks:
        return settings
    return settings.model_copy(update={"fetch_allow_networks": [
        *settings.fetch_allow_networks, *networks]})


def confirm_removal(description: str, yes: bool) -> None:
    """Ask before deleting anything (`--yes` skips); no answer (a closed stdin) removes nothing."""
    if yes:
        return
    try:
        confirmed = click.confirm(f"Remove {description}?", default=False, err=True)
    except click.Abort:  # end of input: the prompt's line is left open
        click.echo(err=True)
        confirmed = False
    if not confirmed:
        raise click.ClickException("nothing removed (answer y, or pass --yes in scripts)")


def with_redis(action: Callable[[aioredis.Redis, Settings], Awaitable[T]]) -> T:
    """Run `action(client, settings)` against the configured Redis, or the embedded one
    under the data dir; input and service errors become one clear line."""
    current = load_settings()
    redis_url = current.redis_url.get_secret_value() if current.redis_url else None
    try:
        with embedded_services(None, redis_url, current.data_dir, need_kafka=False) as ends:
            async def run() -> T:
                client = aioredis.Redis.from_url(ends.redis_url)
                try:
                    return await action(client, current)
                finally:
                    await client.aclose()

            return asyncio.run(run())
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from exc


def running_bootstrap(settings: Settings) -> str:
    """The configured broker, else the embedded one a running `wirewatch run` started for
    this data dir. Never a new embedded broker: it would start empty."""
    found = settings.kafka_bootstrap or running_kafka(settings.data_dir)
    if not found:
        raise click.ClickException(
            "WIREWATCH_KAFKA_BOOTSTRAP is not set and no embedded broker is running for "
            f"{settings.data_dir}: the embedded broker (and its topics) lives only while "
            "`wirewatch run` runs; start it, or set WIREWATCH_KAFKA_BOOTSTRAP")
    return found
