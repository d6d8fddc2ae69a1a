"""Channels: where alerts go, defined once in YAML and referenced by id from subscriptions.

    smtp: {host: smtp.example.com, port: 587, security: starttls,
           username: alerts@example.com, password_env: SMTP_PASSWORD,
           sender: alerts@example.com}
    channels:
      - {id: team-slack, kind: slack-webhook, url_env: SLACK_WEBHOOK_URL}
      - {id: news-bot, kind: slack-api, token_env: SLACK_BOT_TOKEN, channel: C0123ABC}
      - {id: ana, kind: email, to: [ana@example.com]}
      - {id: hook, kind: webhook, url: "https://example.com/hook", secret_env: HOOK_SECRET}

Secrets come from the environment variable a `*_env` key names (or inline, for tests);
`console` always exists. Every mistake names the file, the channel and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from wirewatch.alerts.dispatch import Notifier
from wirewatch.alerts.errors import ChannelError
from wirewatch.alerts.escape import safe_url
from wirewatch.alerts.notifiers.console import ConsoleNotifier
from wirewatch.alerts.notifiers.email import EmailNotifier, SmtpServer, plain_address
from wirewatch.alerts.notifiers.slack_api import SlackApiNotifier
from wirewatch.alerts.notifiers.slack_webhook import SlackWebhookNotifier
from wirewatch.alerts.notifiers.webhook import WebhookNotifier
from wirewatch.connectors.yaml_file import (
    Position,
    at,
    position_of,
    read_yaml,
    unknown_key_message,
)

KINDS = frozenset({"console", "slack-webhook", "slack-api", "email", "webhook"})
DEFAULT_PACE = {"slack-webhook": 1.0, "slack-api": 1.0}  # Slack: about one message a second
SLACK_API_URL = "https://slack.com/api/"
# The keys each kind of channel reads (a typo such as `url_evn` is refused, not lost).
_COMMON_KEYS = ("id", "kind", "pace_seconds")
KIND_KEYS = {
    "slack-webhook": ("url", "url_env"),
    "slack-api": ("token", "token_env", "channel"),
    "email": ("to",),
    "webhook": ("url", "url_env", "secret", "secret_env"),
}
SMTP_KEYS = ("host", "port", "security", "username", "password", "password_env", "sender",
             "timeout_seconds", "ca_file")
TOP_KEYS = ("smtp", "channels")


def _where(file: str, what: str, node: Any, key: Any = None, *, of_key: bool = False) -> str:
    """"file:line:column: what" (the place of a mapping read from the file, of one key's
    value or, `of_key`, of the key itself); "file: what" when the place is unknown."""
    place = at(file, position_of(node, key, of_key=of_key))
    return f"{place}: {what}" if what else place


def _refuse_unknown(entry: Mapping[Any, Any], known: tuple[str, ...], file: str,
                    what: str) -> None:
    for key in entry:
        if key not in known:
            raise ChannelError(f"{_where(file, what, entry, key, of_key=True)}: "
                               f"{unknown_key_message(key, known)}")


@dataclass(frozen=True)
class ChannelSpec:
    id: str
    kind: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    pace_seconds: float = 0.0


@dataclass(frozen=True)
class Channels:
    """The configured channels (console included) and the SMTP server email channels use."""

    specs: Mapping[str, ChannelSpec]
    smtp: SmtpServer | None = None

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self.specs)

    def pace(self) -> dict[str, float]:
        return {cid: spec.pace_seconds for cid, spec in self.specs.items() if spec.pace_seconds}

    def notifiers(self, session: aiohttp.ClientSession, *, dashboard_url: str | None = None,
                  slack_api_url: str = SLACK_API_URL) -> dict[str, Notifier]:
        built: dict[str, Notifier] = {}
        for cid, spec in self.specs.items():
            s = spec.settings
            if spec.kind == "console":
                built[cid] = ConsoleNotifier()
            elif spec.kind == "slack-webhook":
                built[cid] = SlackWebhookNotifier(cid, s["url"], session,
                                                  dashboard_url=dashboard_url)
            elif spec.kind == "slack-api":
                built[cid] = SlackApiNotifier(cid, s["token"], s["channel"], session,
                                              base_url=slack_api_url,
                                              dashboard_url=dashboard_url)
            elif spec.kind == "email":
                assert self.smtp is not None  # checked when loading
                built[cid] = EmailNotifier(cid, self.smtp, list(s["to"]),
                                           dashboard_url=dashboard_url)
            else:
                built[cid] = WebhookNotifier(cid, s["url"], s["secret"].encode(), session)
        return built


def _secret(entry: Mapping[str, Any], key: str, file: str, what: str, env: Mapping[str, str],
            *, required: bool = True) -> str | None:
    if f"{key}_env" in entry:
        name = str(entry[f"{key}_env"])
        value = env.get(name)
        if not value:
            raise ChannelError(f"{_where(file, what, entry, f'{key}_env')}: environment "
                               f"variable {name} (from {key}_env) is not set")
        return value
    if key in entry:
        return str(entry[key])
    if required:
        raise ChannelError(f"{_where(file, what, entry)}: needs '{key}' (or '{key}_env' "
                           "naming a variable)")
    return None


def _smtp(entry: Any, where: str, env: Mapping[str, str],
          position: Position | None) -> SmtpServer:
    """The SMTP server; `position` is the `smtp:` value's, else the first email channel's."""
    if not isinstance(entry, dict) or not entry.get("host"):
        raise ChannelError(f"{at(where, position)}: email channels need an 'smtp:' mapping "
                           "with a 'host'")
    _refuse_unknown(entry, SMTP_KEYS, where, "smtp")
    security = str(entry.get("security", "starttls"))
    if security not in ("starttls", "tls", "none"):
        raise ChannelError(f"{_where(where, '', entry, 'security')}: smtp security must be "
                           "starttls, tls or none")
    default_port = {"starttls": 587, "tls": 465, "none": 25}[security]
    return SmtpServer(
        host=str(entry["host"]), port=int(entry.get("port", default_port)), security=security,
        username=str(entry["username"]) if entry.get("username") else None,
        password=_secret(entry, "password", where, "", env, required=False),
        sender=str(entry.get("sender", "wirewatch@localhost")),
        timeout=float(entry.get("timeout_seconds", 30)),
        ca_file=str(entry["ca_file"]) if entry.get("ca_file") else None)


def parse_channels(document: Any, where: str,
                   env: Mapping[str, str] | None = None) -> Channels:
    env = os.environ if env is None else env
    if document is None:
        document = {}
    if not isinstance(document, dict) or not isinstance(document.get("channels", []), list):
        place = position_of(document, "channels")  # a value that is not a list
        raise ChannelError(f"{at(where, place) + ': ' if place else ''}{where} needs a "
                           "top-level 'channels:' list")
    _refuse_unknown(document, TOP_KEYS, where, "")
    specs: dict[str, ChannelSpec] = {"console": ChannelSpec("console", "console")}
    entries = document.get("channels") or []
    smtp_at = position_of(document, "smtp") if "smtp" in document else None
    needs_smtp = False
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            place = position_of(entry, "id") or position_of(entries, index)
            raise ChannelError(f"{at(where, place)}: channels[{index}] needs an 'id'")
        cid, kind = entry["id"], entry.get("kind")
        here = f"channel {cid!r}"
        if cid in specs:
            raise ChannelError(f"{_where(where, here, entry, 'id')} is defined twice "
                               "(console is built in)")
        if kind not in KINDS - {"console"}:
            raise ChannelError(f"{_where(where, here, entry, 'kind')}: kind must be one of "
                               f"{sorted(KINDS - {'console'})}")
        _refuse_unknown(entry, _COMMON_KEYS + KIND_KEYS[kind], where, here)
        settings: dict[str, Any] = {}
        if kind in ("slack-webhook", "webhook"):
            url = _secret(entry, "url", where, here, env) or ""
            if safe_url(url) is None:
                source = "url_env" if "url_env" in entry else "url"
                raise ChannelError(f"{_where(where, here, entry, source)}: url must be an "
                                   "absolute http(s) URL")
            settings["url"] = url
        if kind == "webhook":
            settings["secret"] = _secret(entry, "secret", where, here, env)
        if kind == "slack-api":
            settings["token"] = _secret(entry, "token", where, here, env)
            if not entry.get("channel"):
                raise ChannelError(f"{_where(where, here, entry, 'channel')}: needs the Slack "
                                   "'channel' (an id such as C0123)")
            settings["channel"] = str(entry["channel"])
        if kind == "email":
            recipients = entry.get("to")
            if isinstance(recipients, str):
                recipients = [recipients]
            if not recipients or not all(isinstance(r, str) and "@" in r for r in recipients):
                raise ChannelError(f"{_where(where, here, entry, 'to')}: needs 'to', a list "
                                   "of e-mail addresses")
            for number, recipient in enumerate(recipients):
                try:
                    plain_address(recipient)
                except ValueError as exc:
                    place = position_of(entry.get("to"), number) or position_of(entry, "to")
                    raise ChannelError(f"{at(where, place)}: {here}: {exc}") from exc
            settings["to"] = recipients
            smtp_at = smtp_at or position_of(entry)
            needs_smtp = True
        pace = float(entry.get("pace_seconds", DEFAULT_PACE.get(kind, 0.0)))
        specs[cid] = ChannelSpec(cid, kind, settings, pace)
    smtp = _smtp(document.get("smtp"), where, env, smtp_at) if needs_smtp else None
    return Channels(specs, smtp)


def load_channels(path: Path | None, env: Mapping[str, str] | None = None) -> Channels:
    """Channels from a YAML file; without a file, only `console`."""
    if path is None:
        return parse_channels({}, "(no channels file)", env)
    return parse_channels(read_yaml(path, ChannelError, "channels file", located=True),
                          str(path), env)
