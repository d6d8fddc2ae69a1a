"""Slack incoming webhook: one POST of the rendered message per alert."""

from __future__ import annotations

import json

import aiohttp
from wirewatch.alerts.notifiers.http import post
from wirewatch.alerts.records import Alert
from wirewatch.alerts.render import slack_message


class SlackWebhookNotifier:
    """Posts to an incoming-webhook URL; Slack answers 200 `ok`, 429, 4xx strings or 5xx."""

    def __init__(self, name: str, url: str, session: aiohttp.ClientSession, *,
                 dashboard_url: str | None = None, timeout: float = 10.0) -> None:
        self.name, self.url, self.session = name, url, session
        self.dashboard_url, self.timeout = dashboard_url, timeout

    async def notify(self, alert: Alert, thread: str | None = None) -> str | None:
        payload = json.dumps(slack_message(alert, self.dashboard_url)).encode()
        await post(self.session, self.name, self.url, data=payload,
                   headers={"Content-Type": "application/json"}, timeout=self.timeout)
        return None  # webhooks cannot thread: there is no message id to reply to
