"""`wirewatch watchlist ...` and `wirewatch taxonomy ...`: what the tagger looks for."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import yaml

from streams.settings import Settings
from streams.tagging import TaxonomyError, load_entities, load_topics
from streams.tagging.files import ENTITY_TYPES, Entity, write_yaml


class _TaggingGroup(click.Group):
    """A command group whose rule and watchlist mistakes end as one clear line, exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TaxonomyError as exc:
            raise click.ClickException(str(exc)) from exc


def _edit_watchlist(path: Path, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
                    ) -> None:
    """Apply `change` to the entries of the user's watchlist file, validating the result
    before it replaces the file a running worker reads."""
    document: dict[str, Any] = {"extends_defaults": True, "entities": []}
    if path.exists():
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict) or not isinstance(loaded.get("entities", []), list):
            raise click.ClickException(f"{path} needs a top-level 'entities:' list")
        document.update(loaded)
    document["entities"] = change(list(document.get("entities") or []))
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate = path.with_name(f".{path.name}.check")
    candidate.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
                         encoding="utf-8")
    try:
        load_entities([candidate])
    except TaxonomyError as exc:
        raise TaxonomyError(str(exc).replace(str(candidate), str(path))) from None
    finally:
        candidate.unlink(missing_ok=True)
    write_yaml(path, document)


@click.group(cls=_TaggingGroup)
def watchlist() -> None:
    """Watched people, organisations and tickers (shipped defaults plus your file).

    Your file is WIREWATCH_WATCHLIST_FILE (default <data_dir>/watchlist.yaml); running
    workers pick up changes within WIREWATCH_TAGGING_RELOAD_SECONDS.
    """


@watchlist.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_entities(as_json: bool) -> None:
    """Every watched entity in effect."""
    settings = Settings()
    for entity in load_entities([settings.user_watchlist] if settings.user_watchlist.exists()
                                else []):
        if as_json:
            click.echo(json.dumps(entity.to_yaml()))
        else:
            shapes = ", ".join([*entity.aliases, *entity.ambiguous_aliases, *entity.tickers])
            click.echo(f"{entity.id:24} {entity.type:13} {shapes}")


@watchlist.command("add")
@click.argument("entity_id")
@click.option("--name", help="Display name (default: the id).")
@click.option("--type", "entity_type", type=click.Choice(sorted(ENTITY_TYPES)),
              default="organization", show_default=True)
@click.option("--alias", "aliases", multiple=True, help="Matches in any case (repeatable).")
@click.option("--ambiguous", "ambiguous", multiple=True,
              help="Counts only capitalised and with context, e.g. Apple (repeatable).")
@click.option("--context", multiple=True, help="Confirms an ambiguous alias (repeatable).")
@click.option("--ticker", "tickers", multiple=True, help="EXCHANGE:SYMBOL, e.g. NASDAQ:MSFT.")
def add_entity(entity_id: str, name: str | None, entity_type: str, aliases: tuple[str, ...],
               ambiguous: tuple[str, ...], context: tuple[str, ...],
               tickers: tuple[str, ...]) -> None:
    """Add or replace an entity in your watchlist file."""
    path = Settings().user_watchlist
    entity = Entity(entity_id, name or entity_id, entity_type, aliases or (
        () if ambiguous or tickers else (name or entity_id,)), tickers, ambiguous, context)
    replaced = False

    def change(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nonlocal replaced
        replaced = any(entry.get("id") == entity_id for entry in entries)
        return [e for e in entries if e.get("id") != entity_id] + [entity.to_yaml()]

    _edit_watchlist(path, change)
    click.echo(f"{'replaced' if replaced else 'added'} {entity_id} in {path}")


@watchlist.command("remove")
@click.argument("entity_id")
def remove_entity(entity_id: str) -> None:
    """Remove an entity from your watchlist file (a shipped one is switched off)."""
    path = Settings().user_watchlist
    shipped = entity_id in {entity.id for entity in load_entities()}
    found = shipped

    def change(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nonlocal found
        found = found or any(entry.get("id") == entity_id for entry in entries)
        kept = [entry for entry in entries if entry.get("id") != entity_id]
        return kept + ([{"id": entity_id, "enabled": False}] if shipped else [])

    _edit_watchlist(path, change)
    if not found:
        raise click.ClickException(f"no entity {entity_id!r} in {path} or the defaults")
    click.echo(f"removed {entity_id} ({'switched off the shipped entry' if shipped else path})")


@watchlist.command("check")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
def check_watchlist(path: Path) -> None:
    """Validate a watchlist file; exit non-zero with the reason when it is wrong."""
    entities = load_entities([path])
    click.echo(f"{path}: ok, {len(entities)} entities in effect")


@click.group(cls=_TaggingGroup)
def taxonomy() -> None:
    """Topic rules (shipped defaults plus WIREWATCH_TAXONOMY_FILE)."""


@taxonomy.command("show")
def show_taxonomy() -> None:
    """Every topic in effect, with its threshold and rule count."""
    settings = Settings()
    for topic in load_topics([settings.user_taxonomy] if settings.user_taxonomy.exists()
                             else []):
        click.echo(f"{topic.id:22} threshold {topic.threshold:<5g} {len(topic.rules)} rules"
                   f"{', ' + str(len(topic.exclude)) + ' excludes' if topic.exclude else ''}")


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
    settings = Settings()
    try:
        tags = settings.tagger_source().current().tag(title, body)
    except TaxonomyError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps({"topics": tags.topics,
                           "entities": [{"id": e.id, "salience": e.salience, "where": e.where}
                                        for e in tags.entities],
                           "evidence": {tag: [[e.term, e.field, e.snippet] for e in found]
                                        for tag, found in tags.evidence.items()}}, indent=2))
