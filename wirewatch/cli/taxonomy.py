"""`wirewatch taxonomy ...`: the topic rules in effect, checked and explained."""

from __future__ import annotations

import json
from pathlib import Path

import click

from wirewatch.cli.common import Group, load_settings
from wirewatch.cli.output import Column, Output, output_options
from wirewatch.streams.tagging import TaxonomyError, load_topics


@click.group(cls=Group)
def taxonomy() -> None:
    """Topic rules (shipped defaults plus WIREWATCH_TAXONOMY_FILE)."""


@taxonomy.command("show")
@output_options()
def show_taxonomy(out: Output) -> None:
    """Every topic in effect, with its threshold and rule count."""
    settings = load_settings()
    topics = load_topics([settings.user_taxonomy] if settings.user_taxonomy.exists() else [])
    out.rows([{"id": topic.id, "threshold": topic.threshold, "rules": len(topic.rules),
               "excludes": len(topic.exclude), "languages": sorted(topic.languages)}
              for topic in topics], [
        Column("id", "topic"), Column("threshold", "threshold", numeric=True, show="{:g}".format),
        Column("rules", "rules", numeric=True), Column("excludes", "excludes", numeric=True),
        Column("languages", "languages", show=lambda codes: ", ".join(codes) or "any")])


@taxonomy.command("check")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
def check_taxonomy(path: Path) -> None:
    """Validate a taxonomy file; exit non-zero with the reason when it is wrong."""
    topics = load_topics([path])
    click.echo(f"{path}: ok, {len(topics)} topics in effect")


@taxonomy.command("explain")
@click.argument("title")
@click.argument("body", default="")
def explain(title: str, body: str) -> None:
    """Tag a title and body with the rules in effect and show why each tag fired."""
    settings = load_settings()
    try:
        tags = settings.tagger_source().current().tag(title, body)
    except TaxonomyError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps({"topics": tags.topics,
                           "entities": [{"id": e.id, "salience": e.salience, "where": e.where}
                                        for e in tags.entities],
                           "evidence": {tag: [[e.term, e.field, e.snippet] for e in found]
                                        for tag, found in tags.evidence.items()}}, indent=2))
