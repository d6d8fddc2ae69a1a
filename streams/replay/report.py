"""What a replay found: counts by topic, entity and source, and each subscription's matches,
written as JSON, Markdown and CSV. Plain data, so a checkpoint can carry it across runs."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

COUNTS = ("records", "outside_window", "filtered_out", "undecodable", "articles",
          "new_stories", "duplicates", "alerts", "updates", "already_sent", "queued", "events")


@dataclass
class Match:
    """A subscription's first alert for a story (updates are only counted)."""

    subscription: str
    story_id: str
    title: str
    url: str
    source: str
    time: str  # ISO time of the copy that fired
    because: list[str]
    already_sent: bool  # the live ledger shows this alert was sent
    queued: list[str] = field(default_factory=list)  # --deliver: channels queued now
    event_id: str = ""  # the event the story reports
    unit: str = ""  # what the alert is once per: the story id, or the event for per-event


@dataclass
class Report:
    run_id: str
    source: str
    window: dict[str, str | None]
    mode: str  # "dry-run" or "deliver"
    filters: dict[str, list[str]]
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    # name -> {"articles": n, "stories": n}; a story counts once, by its first copy
    by_topic: dict[str, dict[str, int]] = field(default_factory=dict)
    by_entity: dict[str, dict[str, int]] = field(default_factory=dict)
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)
    subscriptions: dict[str, str] = field(default_factory=dict)  # id -> name
    matches: list[Match] = field(default_factory=list)
    complete: bool = False
    elapsed_seconds: float = 0.0  # wall-clock, every run of a resumed replay added up
    run_seconds: float = 0.0  # wall-clock of the latest run alone, set-up included
    run_records: int = 0  # records the latest run read

    def count_article(self, *, topics: list[str], entities: list[str], source: str,
                      new_story: bool, new_event: bool = False) -> None:
        self.counts["articles"] += 1
        self.counts["new_stories" if new_story else "duplicates"] += 1
        # .get: a checkpoint written before events has no count of them
        self.counts["events"] = self.counts.get("events", 0) + new_event
        for table, names in ((self.by_topic, topics), (self.by_entity, entities),
                             (self.by_source, [source])):
            for name in names:
                row = table.setdefault(name, {"articles": 0, "stories": 0})
                row["articles"] += 1
                row["stories"] += new_story

    def to_json(self) -> dict[str, Any]:
        # What asdict() gives (same keys, same order, copies of every container), built
        # directly: the checkpoint rewrites this every few seconds with every match so far,
        # and asdict's generic recursion cost more than the rest of the checkpoint.
        return {
            "run_id": self.run_id, "source": self.source, "window": dict(self.window),
            "mode": self.mode,
            "filters": {name: list(values) for name, values in self.filters.items()},
            "counts": dict(self.counts),
            "by_topic": {name: dict(row) for name, row in self.by_topic.items()},
            "by_entity": {name: dict(row) for name, row in self.by_entity.items()},
            "by_source": {name: dict(row) for name, row in self.by_source.items()},
            "subscriptions": dict(self.subscriptions),
            "matches": [{**vars(m), "because": list(m.because), "queued": list(m.queued)}
                        for m in self.matches],
            "complete": self.complete, "elapsed_seconds": self.elapsed_seconds,
            "run_seconds": self.run_seconds, "run_records": self.run_records,
            "matches_per_subscription": self.matches_per_subscription(),
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Report:
        values = {k: v for k, v in document.items() if k != "matches_per_subscription"}
        values["matches"] = [Match(**m) for m in values.get("matches", [])]
        return cls(**values)

    def matches_per_subscription(self) -> dict[str, int]:
        counted = dict.fromkeys(self.subscriptions, 0)
        for match in self.matches:
            counted[match.subscription] = counted.get(match.subscription, 0) + 1
        return counted

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["subscription", "story_id", "event_id", "time", "title", "url",
                         "source", "because", "already_sent", "queued"])
        for m in self.matches:
            writer.writerow([m.subscription, m.story_id, m.event_id, m.time, m.title, m.url,
                             m.source, " ".join(m.because), m.already_sent,
                             " ".join(m.queued)])
        return out.getvalue()

    def to_markdown(self) -> str:
        c = self.counts
        lines = [f"# Replay {self.run_id}", "",
                 f"- Source: {self.source}",
                 f"- Window: {self.window.get('from')} to {self.window.get('to') or 'the end'}",
                 f"- Mode: {self.mode}" + ("" if self.complete else " (incomplete: stopped "
                                                                     "before the end)"),
                 f"- Records read: {c['records']:,}; in the window and kept: "
                 f"{c['articles']:,} articles ({c['new_stories']:,} stories in "
                 f"{c.get('events', 0):,} events, "
                 f"{c['duplicates']:,} syndicated copies); outside the window "
                 f"{c['outside_window']:,}; filtered out {c['filtered_out']:,}; "
                 f"undecodable {c['undecodable']:,}",
                 f"- Alerts: {c['alerts']:,} first alerts ({c['already_sent']:,} already sent "
                 f"live), {c['updates']:,} updates"
                 + (f"; queued for delivery now: {c['queued']:,}" if self.mode == "deliver"
                    else ""),
                 f"- Elapsed: {self.elapsed_seconds:.1f} s"
                 + ("" if self.run_records == c["records"] else
                    f" over every run; the last read {self.run_records:,} records in "
                    f"{self.run_seconds:.1f} s"), ""]
        for title, table in (("Topics", self.by_topic), ("Entities", self.by_entity),
                             ("Sources", self.by_source)):
            lines += [f"## {title}", "", "| name | stories | articles |", "| --- | --- | --- |"]
            for name, row in sorted(table.items(), key=lambda kv: (-kv[1]["stories"], kv[0])):
                lines.append(f"| {_cell(name)} | {row['stories']} | {row['articles']} |")
            lines.append("")
        lines += ["## Matches per subscription", ""]
        for subscription_id, count in self.matches_per_subscription().items():
            name = self.subscriptions.get(subscription_id, subscription_id)
            lines += [f"### {_cell(name)} (`{subscription_id}`): {count}", ""]
            mine = [m for m in self.matches if m.subscription == subscription_id]
            if mine:
                lines += ["| time | story | event | source | because | already sent |",
                          "| --- | --- | --- | --- | --- | --- |"]
                lines += [f"| {m.time} | [{_cell(m.title)}]({_link(m.url)}) | "
                          f"{_cell(m.event_id)} | "
                          f"{_cell(m.source)} | {_cell(', '.join(m.because))} | "
                          f"{'yes' if m.already_sent else 'no'} |" for m in mine]
                lines.append("")
        return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|").replace("[", "\\[").replace("]", "\\]")


def _link(url: str) -> str:
    return url.replace(" ", "%20").replace(")", "%29").replace("(", "%28")
