"""`wirewatch users ...`: accounts of the web pages and the API, their roles and API keys.

Run on a machine that reaches Redis: whoever runs it manages every account (it is an
administrator's tool, like the Redis credentials it needs).
"""

from __future__ import annotations

import sys

import click
import redis.asyncio as aioredis

from wirewatch.alerts.accounts import ROLES, UserStore, check_name
from wirewatch.alerts.store import SubscriptionStore
from wirewatch.cli.common import Group, confirm_removal, with_redis
from wirewatch.cli.output import Column, Output, iso_time, output_options
from wirewatch.streams.settings import Settings

_ROLE = click.Choice(ROLES)
_DRY_RUN = click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")


def _users(client: aioredis.Redis, settings: Settings) -> UserStore:
    return UserStore(client, prefix=settings.redis_prefix)


def _password(from_stdin: bool, none: bool) -> str:
    """The new password: none, one line of stdin (for scripts), or typed twice."""
    if none:
        return ""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True,
                                err=True)
    if len(password) < 8:
        raise click.ClickException("a password has at least 8 characters")
    return password


_PASSWORD_OPTIONS = (
    click.option("--password-stdin", is_flag=True,
                 help="Read the password from the first line of stdin instead of asking."),
    click.option("--no-password", is_flag=True,
                 help="No password: the user logs in by API key or single sign-on only."),
)


def _with_password_options(command: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(_PASSWORD_OPTIONS):
        command = option(command)
    return command


@click.group(cls=Group)
def users() -> None:
    """Accounts: subscribers see only their own subscriptions, operators also feeds and
    dead letters, admins everything."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=_ROLE, required=True, help="What the user may do.")
@_with_password_options
def add(name: str, role: str, password_stdin: bool, no_password: bool) -> None:
    """Add a user (argon2id password hash in Redis)."""
    check_name(name)
    password = _password(password_stdin, no_password)
    user = with_redis(lambda c, s: _users(c, s).add(name, role, password))
    click.echo(f"added {user.role} {user.name}")


@users.command("list")
@output_options()
def list_users(out: Output) -> None:
    """Every user with their role and API keys (ids only: keys are never shown again)."""

    async def rows(client: aioredis.Redis, settings: Settings) -> list[dict[str, object]]:
        store = _users(client, settings)
        return [{"name": user.name, "role": user.role, "created": iso_time(user.created),
                 "password": bool(user.password_hash),
                 "keys": [key.key_id for key in await store.keys_of(user.name)]}
                for user in await store.list()]

    out.rows(with_redis(rows), [
        Column("name", "name"), Column("role", "role"), Column("created", "created"),
        Column("password", "password", show=lambda has: "yes" if has else "no"),
        Column("keys", "api keys", show=", ".join)], empty="no users")


@users.command("remove")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask first.")
def remove(name: str, yes: bool) -> None:
    """Remove a user and revoke their API keys; their sessions end at once. Their
    subscriptions stay (give them to someone with `users adopt`)."""
    if with_redis(lambda c, s: _users(c, s).get(name)) is None:
        raise click.ClickException(f"no user {name!r}")
    confirm_removal(f"user {name} and their API keys", yes)
    with_redis(lambda c, s: _users(c, s).remove(name))
    click.echo(f"removed user {name}")


@users.command("set-role")
@click.argument("name")
@click.argument("role", type=_ROLE)
def set_role(name: str, role: str) -> None:
    """Change a user's role; it applies to their next request."""
    user = with_redis(lambda c, s: _users(c, s).set_role(name, role))
    click.echo(f"{user.name} is now {user.role}")


@users.command("reset")
@click.argument("name")
@_with_password_options
def reset(name: str, password_stdin: bool, no_password: bool) -> None:
    """Set a new password for a user."""
    password = _password(password_stdin, no_password)
    with_redis(lambda c, s: _users(c, s).set_password(name, password))
    click.echo(f"new password set for {name}" if password else f"{name} has no password now")


@users.command("adopt")
@click.argument("owner")
@click.option("--user", "name", required=True, help="The user who gets them.")
@_DRY_RUN
def adopt(owner: str, name: str, dry_run: bool) -> None:
    """Give the subscriptions whose owner is exactly OWNER (free text of older versions)
    to a user, who then sees and changes them as their own."""

    async def move(client: aioredis.Redis, settings: Settings) -> list[str]:
        if await _users(client, settings).get(name) is None:
            raise click.ClickException(f"no user {name!r}: add them first (`wirewatch users "
                                       "add`)")
        return await SubscriptionStore(client, prefix=settings.redis_prefix).reassign(
            owner, name, dry_run=dry_run)

    moved = with_redis(move)
    verb = "would give" if dry_run else "gave"
    click.echo(f"{verb} {len(moved)} subscription(s) owned by {owner!r} to {name}"
               + (": " + ", ".join(moved) if moved else ""))


@users.group("key", cls=Group)
def key() -> None:
    """API keys: a user's bearer token for the subscriptions API, with their rights."""


@key.command("create")
@click.argument("name")
def create_key(name: str) -> None:
    """Make a new API key for a user and print it: this once only (Redis keeps a hash)."""
    made = with_redis(lambda c, s: _users(c, s).create_key(name))
    click.echo(made)
    click.echo(f"API key for {name}: keep it now, it is not shown again", err=True)


@key.command("revoke")
@click.argument("name")
@click.argument("key_id")
def revoke_key(name: str, key_id: str) -> None:
    """Revoke one of a user's API keys by its id (`wirewatch users list` shows them)."""
    if not with_redis(lambda c, s: _users(c, s).revoke_key(name, key_id)):
        raise click.ClickException(f"{name} has no API key {key_id!r}")
    click.echo(f"revoked API key {key_id} of {name}")
