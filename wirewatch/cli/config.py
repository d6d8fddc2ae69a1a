"""`wirewatch config`: the effective settings, secrets masked, each with what it does."""

from __future__ import annotations

import json

import click

from wirewatch.cli.common import load_settings


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def config(as_json: bool) -> None:
    """Print the effective settings (secrets masked) and what each one does."""
    current = load_settings()
    values = current.effective()
    if as_json:
        click.echo(json.dumps(values, indent=2, default=str))
        return
    descriptions = current.describe()
    for name, value in values.items():
        click.echo(f"WIREWATCH_{name.upper()} = {json.dumps(value, default=str)}")
        click.echo(f"    {descriptions[name]}")
    from wirewatch.streams import native

    click.echo(f"# {native.describe()}")
