"""`wirewatch watchlist ...`: the people, organisations and tickers the tagger watches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import yaml

from wirewatch.cli.common import Group, load_settings
from wirewatch.cli.output import Column, Output, output_options
from wirewatch.streams.tagging import TaxonomyError, load_entities
from wirewatch.streams.tagging.files import ENTITY_TYPES, Entity, write_yaml


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


@click.group(cls=Group)
def watchlist() -> None:
    """Watched people, organisations and tickers (shipped defaults plus your file).

    Your file is WIREWATCH_WATCHLIST_FILE (default <data_dir>/watchlist.yaml); running
    workers pick up changes within WIREWATCH_TAGGING_RELOAD_SECONDS.
    """


@watchlist.command("list")
@output_options()
def list_entities(out: Output) -> None:
    """Every watched entity in effect."""
    settings = load_settings()
    entities = load_entities([settings.user_watchlist] if settings.user_watchlist.exists()
                             else [])
    out.rows([entity.to_yaml() for entity in entities], [
        Column("id", "id"), Column("name", "name"), Column("type", "type"),
        Column("aliases", "aliases", show=", ".join),
        Column("ambiguous_aliases", "ambiguous", show=lambda a: ", ".join(a or ())),
        Column("tickers", "tickers", show=lambda t: ", ".join(t or ()))])


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
    path = load_settings().user_watchlist
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
    path = load_settings().user_watchlist
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
