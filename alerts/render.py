"""What an alert says, rendered once per channel: Slack blocks, email text and HTML, JSON."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import quote

from wirewatch.alerts.escape import (
    header_value,
    html_link,
    html_text,
    plain,
    safe_url,
    slack_link,
    slack_text,
)
from wirewatch.alerts.records import Alert

TEMPLATES = Path(__file__).parent / "templates"
MAX_TITLE = 300
MAX_EVIDENCE = 3


@dataclass(frozen=True)
class Rendered:
    """An alert as plain values, before any channel's escaping."""

    title: str
    url: str | None
    link_note: str  # said instead of the link when `url` is None
    source: str
    outlets: int
    topics: tuple[str, ...]
    entities: tuple[str, ...]
    evidence: tuple[str, ...]
    subscription: str
    story_link: str | None
    is_update: bool


def missing_link(url: str) -> str:
    """What an alert says where it cannot show the article's link, rather than nothing."""
    if url.strip():
        return "(link dropped: not a web address this alert can show)"
    return "(no link: the feed gave none)"


def link_or_note(url: str) -> str:
    """The article's link if it is safe to show, else why there is none."""
    return safe_url(url) or missing_link(url)


def rendered(alert: Alert, dashboard_url: str | None = None) -> Rendered:
    title = plain(alert.title)[:MAX_TITLE] or "(untitled story)"
    story_link = (f"{dashboard_url.rstrip('/')}/stories/{quote(alert.story_id, safe='')}"
                  if dashboard_url else None)
    return Rendered(
        title=title, url=safe_url(alert.url), link_note=missing_link(alert.url),
        source=plain(alert.source), outlets=alert.outlets,
        topics=tuple(alert.topics), entities=tuple(alert.entities),
        evidence=tuple(plain(e)[:300] for e in alert.evidence[:MAX_EVIDENCE]),
        subscription=plain(alert.subscription_name),
        story_link=safe_url(story_link) if story_link else None,
        is_update=alert.is_update)


def _carried_by(r: Rendered) -> str:
    others = r.outlets - 1
    return f"{r.source}" + (f" and {others} more outlet{'s' if others > 1 else ''}"
                           if others > 0 else "")


def _digest_lines(alert: Alert) -> list[tuple[str, str | None, str, str, int, bool]]:
    """(title, checked url, note if no url, source, outlets, is update) per digest story."""
    return [(plain(item.title)[:MAX_TITLE] or "(untitled story)", safe_url(item.url),
             missing_link(item.url), plain(item.source) + (f" · {item.event_stories} stories"
                                   if item.event_stories > 1 else ""),
             item.outlets, item.is_update) for item in alert.digest]


def slack_message(alert: Alert, dashboard_url: str | None = None) -> dict[str, Any]:
    """A Slack payload (text fallback plus blocks); every feed value escaped."""
    if alert.digest:
        lines = [f"*{slack_text(alert.title)}*"]
        for title, url, note, source, outlets, update in _digest_lines(alert)[:40]:
            shown = slack_link(url, title) if url else f"{slack_text(title)} _{slack_text(note)}_"
            lines.append(f"• {'Update: ' if update else ''}{shown} — {slack_text(source)}"
                         f"{f' (+{outlets - 1})' if outlets > 1 else ''}")
        return {"text": slack_text(alert.title), "unfurl_links": False,
                "blocks": [{"type": "section",
                            "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]}}]}
    r = rendered(alert, dashboard_url)
    headline = slack_link(r.url, r.title) if r.url else slack_text(r.title)
    prefix = "Update: " if r.is_update else ""
    lines = [f"*{prefix}{headline}*" + ("" if r.url else f" _{slack_text(r.link_note)}_"),
             f"{slack_text(_carried_by(r))} · subscription _{slack_text(r.subscription)}_"]
    tags = [f"`{slack_text(t)}`" for t in (*r.entities, *r.topics)]
    if tags:
        lines.append(" ".join(tags))
    lines += [f"> {slack_text(e)}" for e in r.evidence]
    if r.story_link:
        lines.append(slack_link(r.story_link, "story on the dashboard"))
    text = "\n".join(lines)
    return {"text": f"{prefix}{slack_text(r.title)}", "unfurl_links": False,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}]}


def email_subject(alert: Alert) -> str:
    r = rendered(alert)
    return header_value(f"[wirewatch] {'Update: ' if r.is_update else ''}{r.title}")


def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def email_bodies(alert: Alert, dashboard_url: str | None = None) -> tuple[str, str]:
    """(text, HTML) bodies from the templates in alerts/templates/."""
    if alert.digest:
        items = _digest_lines(alert)
        text = "\n".join([plain(alert.title), ""] + [
            f"- {'Update: ' if update else ''}{title}\n  {url or note} ({source})"
            for title, url, note, source, _, update in items])
        html_body = "<!doctype html><html><body><h2>{}</h2><ul>{}</ul></body></html>".format(
            html_text(alert.title), "".join(
                f"<li>{'Update: ' if update else ''}"
                f"{html_link(url, title) if url else html_text(f'{title} {note}')} "
                f"({html_text(source)})</li>" for title, url, note, source, _, update in items))
        return text, html_body
    r = rendered(alert, dashboard_url)
    tags = ", ".join((*r.entities, *r.topics)) or "-"
    text = _template("alert.txt").safe_substitute(
        title=r.title, url=r.url or r.link_note, carried_by=_carried_by(r), tags=tags,
        evidence="\n".join(f"  > {e}" for e in r.evidence) or "  -",
        story_link=r.story_link or "-", subscription=r.subscription,
        update="Update: " if r.is_update else "")
    html_body = _template("alert.html").safe_substitute(
        title=html_link(r.url, r.title) if r.url else html_text(r.title),
        link_note="" if r.url else f'<p style="color: #666">{html_text(r.link_note)}</p>',
        carried_by=html_text(_carried_by(r)), tags=html_text(tags),
        evidence="".join(f"<blockquote>{html_text(e)}</blockquote>" for e in r.evidence),
        story_link=html_link(r.story_link, "Story on the dashboard") if r.story_link else "",
        subscription=html_text(r.subscription), update="Update: " if r.is_update else "")
    return text, html_body
