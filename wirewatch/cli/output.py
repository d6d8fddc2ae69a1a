"""Rows as a rich table, JSON lines or YAML: the one place list commands render their output."""

from __future__ import annotations

import functools
import io
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import click
import yaml
from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

FORMATS = ("table", "json", "yaml")
# Piped output is read by grep and awk: one row, one line, however long a URL is. Rich
# would wrap at 80 columns when it cannot ask a terminal for its width.
PIPE_WIDTH = 10_000
# Feed text is hostile: an escape sequence in a feed's name must not reach the terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def wants_color(no_color: bool, *, tty: bool, environ: Mapping[str, str] = os.environ) -> bool:
    """Colour only on a terminal, and never with --no-color or a non-empty NO_COLOR
    (https://no-color.org)."""
    return tty and not no_color and not environ.get("NO_COLOR")


@dataclass(frozen=True)
class Column:
    """One column of a listing: the row key it shows, its header and how it reads.

    >>> Column("error_streak", "streak", numeric=True)
    Column(key='error_streak', header='streak', numeric=True, show=None, style=None)
    """

    key: str
    header: str
    numeric: bool = False  # right-aligned
    show: Callable[[Any], str] | None = None  # the table's text for a value (JSON keeps it raw)
    style: Callable[[Any], str] | None = None  # a rich style for a value, e.g. "red"


@dataclass(frozen=True)
class Output:
    """How a command was asked to print: the format, whether colour is allowed, and the
    width tables fit (a terminal's, else wide enough never to wrap)."""

    format: str = "table"
    color: bool = False
    width: int = PIPE_WIDTH

    @classmethod
    def for_stdout(cls, format: str = "table", *, no_color: bool = False) -> Output:
        tty = sys.stdout.isatty()
        return cls(format, wants_color(no_color, tty=tty),
                   shutil.get_terminal_size().columns if tty else PIPE_WIDTH)

    @property
    def table(self) -> bool:
        return self.format == "table"

    def rows(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], *,
             title: str | None = None, empty: str = "") -> None:
        """Print `rows` as JSON lines, a YAML list, or a table of `columns`.

        JSON and YAML carry every key of every row, raw (numbers, ISO times); the table
        shows the columns only. `empty` is printed, in a table only, when there are no rows.
        """
        if self.format == "json":
            for row in rows:
                click.echo(json.dumps(row, ensure_ascii=False, default=str))
        elif self.format == "yaml":
            click.echo(yaml.safe_dump([dict(row) for row in rows], sort_keys=False,
                                      allow_unicode=True), nl=False)
        elif not rows and empty:
            click.echo(empty)
        else:
            self.print(table(rows, columns, title=title))

    def print(self, *renderables: RenderableType) -> None:
        """Print rich renderables on standard output, coloured only if allowed."""
        click.echo(render(*renderables, color=self.color, width=self.width), nl=False,
                   color=self.color)


def iso_time(epoch: float | None) -> str | None:
    """A Unix time as ISO 8601 in UTC, for JSON and YAML (None stays None)."""
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


def clean(value: object) -> str:
    """A cell's text on one line, without control characters."""
    return _CONTROL.sub(" ", str(value)).strip()


def table(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], *,
          title: str | None = None) -> Table:
    """A rich table of `columns`: headers, numbers right-aligned, None shown as "-"."""
    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title=title,
                 title_justify="left", title_style="bold", header_style="bold")
    for column in columns:
        grid.add_column(column.header, justify="right" if column.numeric else "left",
                        overflow="fold")
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column.key)
            text = column.show(value) if column.show else ("-" if value is None else value)
            cells.append(Text(clean(text), style=column.style(value) if column.style else ""))
        grid.add_row(*cells)
    return grid


def render(*renderables: RenderableType, color: bool, width: int = PIPE_WIDTH) -> str:
    """The renderables as text; with no colour, no escape codes and no trailing blanks."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system="auto" if color else None,
                      force_terminal=color, no_color=not color, markup=False,
                      highlight=False, emoji=False, soft_wrap=False)
    for renderable in renderables:
        console.print(renderable)
    text = buffer.getvalue()
    if color:
        return text
    return "".join(line.rstrip() + "\n" for line in text.splitlines())


def output_options(formats: Sequence[str] = FORMATS) -> Callable[[Callable[..., None]],
                                                                  Callable[..., None]]:
    """`-o/--output`, `--json` (the same as `-o json`) and `--no-color` on a command, which
    then takes one `out: Output` argument instead."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(command)
        def wrapper(*args: Any, output: str | None, as_json: bool, no_color: bool,
                    **kwargs: Any) -> None:
            if as_json and output not in (None, "json"):
                raise click.UsageError(f"--json is -o json: give one of --json and -o {output}")
            chosen = "json" if as_json else output or "table"
            command(*args, out=Output.for_stdout(chosen, no_color=no_color), **kwargs)

        options = [
            click.option("-o", "--output", type=click.Choice(formats), default=None,
                         help=f"Print as {', '.join(formats)} (default table)."),
            click.option("--json", "as_json", is_flag=True, help="The same as -o json."),
            click.option("--no-color", is_flag=True,
                         help="No colour in tables (also: the NO_COLOR environment variable; "
                              "output that is not a terminal has none)."),
        ]
        decorated: Callable[..., None] = wrapper
        for option in reversed(options):
            decorated = option(decorated)
        return decorated

    return decorate
