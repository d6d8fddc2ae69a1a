"""`wirewatch status`: the dashboard's picture in the terminal, or as JSON for scripts.

It asks the running worker (GET /api/v1/status on the web port), so it sees exactly what
the dashboard sees, on the embedded broker too. Exit codes: 0 healthy, 1 unhealthy, 2 the
worker cannot be reached. Unhealthy means a critical problem (Kafka or Redis unreachable,
lag over the limit); with --strict, a warning (failing feeds, dead letters, an open
circuit) is enough, and the verdict printed says so.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import Any

import click
from rich.console import RenderableType
from rich.text import Text

from wirewatch.cli.common import load_settings
from wirewatch.cli.output import PIPE_WIDTH, Column, Output, table
from wirewatch.cli.output import render as render_text
from wirewatch.streams.ops.when import ago

UNHEALTHY, UNREACHABLE = 1, 2
# How serious each severity is; a problem counts against health at the threshold or above.
SEVERITY = {"warning": 1, "critical": 2}
STRICT, NORMAL = SEVERITY["warning"], SEVERITY["critical"]
_STYLE = {"critical": "bold red", "warning": "yellow"}


def fetch_status(url: str, timeout: float) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our URL
        return json.loads(response.read())  # type: ignore[no-any-return]


def is_healthy(document: dict[str, Any], *, strict: bool = False) -> bool:
    """The worker's verdict (no critical problem); with `strict`, no warning either."""
    threshold = STRICT if strict else NORMAL
    return bool(document["healthy"]) and not any(
        SEVERITY.get(p["severity"], 0) >= threshold for p in document["problems"])


def _feed_state(state: str) -> str:
    return "bold red" if state == "failing" else "yellow"


def sections(document: dict[str, Any], *, strict: bool = False) -> list[RenderableType]:
    """The status document as rich renderables: verdict and reasons, then the snapshot's
    stages, lag, failing feeds and records per topic."""
    healthy = is_healthy(document, strict=strict)
    verdict = Text("wirewatch is ")
    verdict.append("HEALTHY" if healthy else "UNHEALTHY", "bold green" if healthy else "bold red")
    if strict and not healthy and document["healthy"]:
        verdict.append(" (--strict: warnings count)")
    out: list[RenderableType] = [verdict]
    out += [Text.assemble("  ", (p["severity"], _STYLE.get(p["severity"], "")),
                          f": {p['what']}") for p in document["problems"]]
    snapshot = document.get("snapshot") or {}
    if not snapshot:
        return out
    out.append(Text(f"\nsnapshot {ago(snapshot['taken_at'])}; Kafka "
                    f"{'up' if snapshot['kafka_ok'] else 'DOWN'}, Redis "
                    f"{'up' if snapshot['redis_ok'] else 'DOWN'}\n"))
    dead = snapshot["dead_lettered"]
    out.append(table([{"stage": stage, **row, "dead": dead.get(stage, 0)}
                      for stage, row in snapshot["stages"].items()], [
        Column("stage", "stage"), Column("in", "in", numeric=True, show="{:,.0f}".format),
        Column("out", "out", numeric=True, show="{:,.0f}".format),
        Column("in_per_s", "in/s", numeric=True),
        Column("dead", "dead-lettered", numeric=True, show="{:,.0f}".format,
               style=lambda n: "red" if n else "")]))
    out.append(Text(f"\nconsumer lag: {snapshot['total_lag']:,}"))
    out.append(table(snapshot["lag"], [
        Column("topic", "topic"), Column("partition", "partition", numeric=True),
        Column("high_water", "high water", numeric=True),
        Column("committed", "committed", numeric=True), Column("lag", "lag", numeric=True)]))
    feeds = snapshot["feeds"]
    bad = [f for f in feeds if f["state"] in ("failing", "erroring")]
    out.append(Text(f"\nfeeds: {len(feeds)}, of which {len(bad)} failing or erroring"))
    if bad:
        out.append(table(bad, [
            Column("name", "feed"), Column("state", "state", style=_feed_state),
            Column("error_streak", "streak", numeric=True),
            Column("last_success", "last success", show=ago),
            Column("last_error", "last error", show=lambda e: (e or "")[:80])]))
    out.append(Text(""))
    out.append(table([{"topic": t, "records": n} for t, n in snapshot["topic_records"].items()],
                     [Column("topic", "topic"),
                      Column("records", "records", numeric=True, show="{:,}".format)]))
    return out


def render(document: dict[str, Any], *, strict: bool = False, color: bool = False,
           width: int = PIPE_WIDTH) -> str:
    """The status document as text: verdict, problems, stages, lag, failing feeds, records."""
    return render_text(*sections(document, strict=strict), color=color, width=width)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status document as JSON.")
@click.option("--url", default=None, help="Status URL. Default: http://<web_host>:<web_port>"
              "/api/v1/status from the settings.")
@click.option("--strict", is_flag=True, help="Warnings (failing feeds, dead letters) count as "
              "unhealthy too: exit 1 and say UNHEALTHY.")
@click.option("--timeout", default=5.0, show_default=True, help="Seconds to wait for the worker.")
@click.option("--no-color", is_flag=True, help="No colour (also: NO_COLOR; output that is not "
              "a terminal has none).")
def status(as_json: bool, url: str | None, strict: bool, timeout: float,
           no_color: bool) -> None:
    """Stream health: stages, lag, failing feeds, DLQ. Exit 0 healthy, 1 unhealthy, 2 down."""
    if url is None:
        settings = load_settings()
        url = f"http://{settings.web_host}:{settings.web_port}/api/v1/status"
    try:
        document = fetch_status(url, timeout)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        message = f"cannot reach the wirewatch worker at {url}: {exc}"
        if as_json:
            click.echo(json.dumps({"healthy": False, "reachable": False, "error": message}))
        else:
            click.echo(f"wirewatch is UNREACHABLE\n  {message}", err=True)
        sys.exit(UNREACHABLE)
    healthy = is_healthy(document, strict=strict)
    if as_json:
        # `healthy` agrees with the exit code: under --strict it is the strict verdict.
        click.echo(json.dumps({**document, "healthy": healthy, "strict": strict}, indent=2))
    else:
        Output.for_stdout(no_color=no_color).print(*sections(document, strict=strict))
    sys.exit(0 if healthy else UNHEALTHY)
