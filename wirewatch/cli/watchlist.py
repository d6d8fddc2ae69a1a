"""`wirewatch watchlist ...`: the people, organisations and tickers the tagger watches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml

from wirewatch.cli.common import Group, load_settings
from wirewatch.cli.output import Column, Output, output_options
from wirewatch.streams.tagging import companies, load_entities
from wirewatch.streams.tagging.files import (
    ENTITY_TYPES,
    Entity,
    edit_watchlist,
    is_entity_id,
    put_entity,
)


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
@click.argument("entity_id", required=False)
@click.option("--name", help="Display name (default: the id).")
@click.option("--type", "entity_type", type=click.Choice(sorted(ENTITY_TYPES)),
              default="organization", show_default=True)
@click.option("--alias", "aliases", multiple=True, help="Matches in any case (repeatable).")
@click.option("--ambiguous", "ambiguous", multiple=True,
              help="Counts only capitalised and with context, e.g. Apple (repeatable).")
@click.option("--context", multiple=True, help="Confirms an ambiguous alias (repeatable).")
@click.option("--ticker", "tickers", multiple=True, help="EXCHANGE:SYMBOL, e.g. NASDAQ:MSFT.")
@click.option("--dry-run", is_flag=True, help="Print the entry; change nothing.")
def add_entity(entity_id: str | None, name: str | None, entity_type: str,
               aliases: tuple[str, ...], ambiguous: tuple[str, ...], context: tuple[str, ...],
               tickers: tuple[str, ...], dry_run: bool) -> None:
    """Add or replace an entity in your watchlist file.

    With only a ticker or a company's name (`add --ticker NASDAQ:NVDA`, `add "Nvidia"`) the
    entry is copied from the shipped knowledge base of listed companies (see `search`).
    """
    path = load_settings().user_watchlist
    entity = _from_knowledge_base(path, entity_id, tickers) if not (
        name or aliases or ambiguous or context) else None
    if entity is None:
        if entity_id is None:
            raise click.UsageError("give an ENTITY_ID (or a listed company's name or --ticker)")
        entity = Entity(entity_id, name or entity_id, entity_type, aliases or (
            () if ambiguous or tickers else (name or entity_id,)), tickers, ambiguous, context)
    if dry_run:
        click.echo(yaml.safe_dump([entity.to_yaml()], sort_keys=False, allow_unicode=True),
                   nl=False)
        return
    replaced = put_entity(path, entity)
    click.echo(f"{'replaced' if replaced else 'added'} {entity.id} ({entity.name}) in {path}")


def _from_knowledge_base(path: Path, text: str | None, tickers: tuple[str, ...],
                         ) -> Entity | None:
    """The knowledge base's entry for a ticker or a company's name, as an entity; None when
    the text is a plain new id (the old way: `add acme` watches the word acme)."""
    if tickers:
        company = companies.by_ticker(tickers[0])
        if company is None and text is None:
            raise click.ClickException(
                f"no listed company has the ticker {tickers[0]!r}; give an ENTITY_ID and "
                "--alias to watch it anyway")
        if company is None:
            return None
        entity_id = text
    elif text is not None:
        found = companies.named(text)
        if len(found) > 1:
            raise click.ClickException(
                f"{text!r} names {len(found)} listed companies: "
                + ", ".join(f"{c.name} ({', '.join(c.tickers) or c.id})" for c in found)
                + "; add one by --ticker")
        if not found:
            if is_entity_id(text):
                return None
            near = companies.search(text, limit=5)
            hint = ("; did you mean " + ", ".join(c.name for c in near) + "?") if near else ""
            raise click.ClickException(f"no listed company is named {text!r}{hint} "
                                       "(`wirewatch watchlist search TEXT`)")
        company, entity_id = found[0], None
    else:
        return None
    if entity_id is None:
        # An entity already in effect with one of its tickers (the shipped `meta` for Meta
        # Platforms) is replaced rather than watched twice under two ids.
        in_effect = load_entities([path] if path.exists() else [])
        entity_id = next((e.id for e in in_effect if set(e.tickers) & set(company.tickers)),
                         company.id)
    return company.to_entity(entity_id)


@watchlist.command("search")
@click.argument("text")
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@output_options()
def search_companies(text: str, limit: int, out: Output) -> None:
    """Find listed companies in the shipped knowledge base by name, ticker or ISIN."""
    out.rows([{"id": c.id, "name": c.name, "legal_name": c.legal_name,
               "tickers": list(c.tickers), "isins": list(c.isins), "indices": list(c.indices),
               "ambiguous": bool(c.ambiguous_aliases)}
              for c in companies.search(text, limit=limit)], [
        Column("id", "id"), Column("name", "name"),
        Column("tickers", "tickers", show=", ".join),
        Column("indices", "indices", show=", ".join),
        Column("ambiguous", "needs context", show=lambda a: "yes" if a else "")],
        empty=f"no listed company matches {text!r}")


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

    edit_watchlist(path, change)
    if not found:
        raise click.ClickException(f"no entity {entity_id!r} in {path} or the defaults")
    click.echo(f"removed {entity_id} ({'switched off the shipped entry' if shipped else path})")


@watchlist.command("check")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
def check_watchlist(path: Path) -> None:
    """Validate a watchlist file; exit non-zero with the reason when it is wrong."""
    entities = load_entities([path])
    click.echo(f"{path}: ok, {len(entities)} entities in effect")
