"""Channels file: every kind parses, secrets come from the environment, mistakes are named."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from wirewatch.alerts.channels import load_channels, parse_channels
from wirewatch.alerts.errors import ChannelError
from wirewatch.alerts.notifiers.email import EmailNotifier
from wirewatch.alerts.notifiers.slack_api import SlackApiNotifier
from wirewatch.alerts.notifiers.slack_webhook import SlackWebhookNotifier
from wirewatch.alerts.notifiers.webhook import WebhookNotifier

GOOD = {
    "smtp": {"host": "smtp.example.com", "username": "alerts", "password_env": "SMTP_PW",
             "sender": "alerts@example.com"},
    "channels": [
        {"id": "team-slack", "kind": "slack-webhook", "url_env": "HOOK"},
        {"id": "news-bot", "kind": "slack-api", "token_env": "BOT", "channel": "C0123"},
        {"id": "ana", "kind": "email", "to": "ana@example.com"},
        {"id": "hook", "kind": "webhook", "url": "https://example.com/h", "secret": "s3cret",
         "pace_seconds": 0.5},
    ],
}
ENV = {"HOOK": "https://hooks.slack.com/services/T/B/x", "BOT": "xoxb-1", "SMTP_PW": "pw"}


async def test_every_kind_builds_its_notifier() -> None:
    channels = parse_channels(GOOD, "channels.yaml", ENV)
    assert channels.ids == {"console", "team-slack", "news-bot", "ana", "hook"}
    assert channels.pace() == {"team-slack": 1.0, "news-bot": 1.0, "hook": 0.5}
    assert channels.smtp is not None and channels.smtp.port == 587
    assert channels.smtp.password == "pw"
    async with aiohttp.ClientSession() as session:
        built = channels.notifiers(session)
    assert isinstance(built["team-slack"], SlackWebhookNotifier)
    assert isinstance(built["news-bot"], SlackApiNotifier)
    assert isinstance(built["ana"], EmailNotifier)
    assert isinstance(built["hook"], WebhookNotifier)


def test_without_a_file_only_console_exists() -> None:
    assert load_channels(None).ids == {"console"}


@pytest.mark.parametrize(("document", "message"), [
    ({"channels": [{"kind": "email"}]}, r"channels\[0\] needs an 'id'"),
    ({"channels": [{"id": "x", "kind": "pager"}]}, "kind must be one of"),
    ({"channels": [{"id": "console", "kind": "webhook"}]}, "defined twice"),
    ({"channels": [{"id": "x", "kind": "slack-webhook", "url_env": "NOPE"}]},
     "environment variable NOPE"),
    ({"channels": [{"id": "x", "kind": "slack-webhook", "url": "javascript:x"}]},
     "absolute http"),
    ({"channels": [{"id": "x", "kind": "slack-api", "token": "t"}]}, "needs the Slack 'channel'"),
    ({"channels": [{"id": "x", "kind": "webhook", "url": "https://a.example/"}]},
     "needs 'secret'"),
    ({"channels": [{"id": "x", "kind": "email", "to": ["nobody"]}]}, "e-mail addresses"),
    ({"channels": [{"id": "x", "kind": "email", "to": ["a@b.example"]}]}, "'smtp:' mapping"),
    ({"channels": [{"id": "x", "kind": "email", "to": ["a@b.example, c@d.example"]}]},
     "not a single plain e-mail address"),
    ({"smtp": {"host": "h", "security": "ssl"},
      "channels": [{"id": "x", "kind": "email", "to": ["a@b.example"]}]}, "starttls, tls or none"),
    ({"channels": "x"}, "top-level 'channels:' list"),
])
def test_mistakes_are_named(document: object, message: str) -> None:
    with pytest.raises(ChannelError, match=message):
        parse_channels(document, "channels.yaml", {})


def test_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "channels.yaml"
    path.write_text("channels: [\n", encoding="utf-8")
    with pytest.raises(ChannelError, match="not valid YAML"):
        load_channels(path)
    with pytest.raises(ChannelError, match="cannot read"):
        load_channels(tmp_path / "absent.yaml")


@pytest.mark.parametrize(("content", "message"), [
    pytest.param("channels:\n  - id: hook\n    kind: slack-webhook\n    url_evn: HOOK\n",
                 r":4:5: channel 'hook': unknown key 'url_evn' \(did you mean 'url_env'\?",
                 id="typo-in-channel"),
    pytest.param("channels:\n  - {id: hook, kind: webhook, url: 'https://x.example/h', "
                 "secret: s, to: [a@example.com]}\n",
                 r":2:70: channel 'hook': unknown key 'to' \(known keys: id, kind, pace_seconds, "
                 r"url, url_env, secret, secret_env\)", id="key-of-another-kind"),
    pytest.param("smtp:\n  host: mail.example.com\n  pasword_env: PW\nchannels:\n"
                 "  - {id: a, kind: email, to: [a@example.com]}\n",
                 r":3:3: smtp: unknown key 'pasword_env' \(did you mean 'password_env'\?",
                 id="typo-in-smtp"),
    pytest.param("chanels: []\n", r"unknown key 'chanels' \(did you mean 'channels'\?",
                 id="typo-at-the-top"),
])
def test_unknown_keys_are_refused_with_the_line(tmp_path: Path, content: str,
                                                message: str) -> None:
    path = tmp_path / "channels.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ChannelError, match=message) as excinfo:
        load_channels(path, ENV)
    assert str(path) in str(excinfo.value)
