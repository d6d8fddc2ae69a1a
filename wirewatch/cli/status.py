"""`wirewatch status`: the dashboard's picture in the terminal, or as JSON for scripts.

It asks the running worker (GET /api/v1/status on the web port), so it sees exactly what
the dashboard sees, on the embedded broker too. Exit codes: 0 healthy, 1 unhealthy (a
critical problem: Kafka or Redis unreachable, lag over the limit), 2 the worker cannot be
reached; with --strict, warnings (failing feeds, dead letters) count as unhealthy too.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import Any

import click

from wirewatch.cli.common import load_settings
from wirewatch.streams.ops.when import ago

UNHEALTHY, UNREACHABLE = 1, 2


def fetch_status(url: str, timeout: float) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our URL
        return json.loads(response.read())  # type: ignore[no-any-return]


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def render(document: dict[str, Any]) -> str:
    """The status document as text: verdict, problems, stages, lag, failing feeds, DLQ."""
    snapshot = document.get("snapshot") or {}
    out = [f"wirewatch is {'HEALTHY' if document['healthy'] else 'UNHEALTHY'}"]
    out += [f"  {p['severity']}: {p['what']}" for p in document["problems"]]
    if not snapshot:
        return "\n".join(out)
    out.append(f"\nsnapshot {ago(snapshot['taken_at'])}; Kafka "
               f"{'up' if snapshot['kafka_ok'] else 'DOWN'}, Redis "
               f"{'up' if snapshot['redis_ok'] else 'DOWN'}")
    stages = snapshot["stages"]
    out.append("\n" + table(["stage", "in", "out", "in/s", "dead-lettered"], [
        [stage, f"{row['in']:.0f}", f"{row['out']:.0f}", f"{row['in_per_s']}",
         f"{snapshot['dead_lettered'].get(stage, 0):.0f}"] for stage, row in stages.items()]))
    out.append(f"\nconsumer lag: {snapshot['total_lag']:,}")
    out.append(table(["topic", "partition", "high water", "committed", "lag"], [
        [p["topic"], str(p["partition"]), str(p["high_water"]),
         "-" if p["committed"] is None else str(p["committed"]), str(p["lag"])]
        for p in snapshot["lag"]]))
    feeds = snapshot["feeds"]
    bad = [f for f in feeds if f["state"] in ("failing", "erroring")]
    out.append(f"\nfeeds: {len(feeds)}, of which {len(bad)} failing or erroring")
    if bad:
        out.append(table(["feed", "state", "streak", "last success", "last error"], [
            [f["name"][:40], f["state"], str(f["error_streak"]), ago(f["last_success"]),
             (f["last_error"] or "")[:60]] for f in bad]))
    records = snapshot["topic_records"]
    out.append("\nrecords per topic: " + ", ".join(f"{t} {n:,}" for t, n in records.items()))
    return "\n".join(out)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status document as JSON.")
@click.option("--url", default=None, help="Status URL. Default: http://<web_host>:<web_port>"
              "/api/v1/status from the settings.")
@click.option("--strict", is_flag=True, help="Warnings (failing feeds, dead letters) count as "
              "unhealthy too.")
@click.option("--timeout", default=5.0, show_default=True, help="Seconds to wait for the worker.")
def status(as_json: bool, url: str | None, strict: bool, timeout: float) -> None:
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
    healthy = document["healthy"] and not (strict and document["problems"])
    click.echo(json.dumps(document, indent=2) if as_json else render(document))
    sys.exit(0 if healthy else UNHEALTHY)
