"""`wirewatch schemas`: the JSON Schemas of the records on every public topic."""

from __future__ import annotations

import json

import click


@click.command()
def schemas() -> None:
    """Print the JSON Schemas of the records on every public topic."""
    from wirewatch.streams.records import json_schemas

    click.echo(json.dumps(json_schemas(), indent=2))
