"""Try a subscription out: would an article match it, and does each of its channels deliver."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import aiohttp
from wirewatch.alerts.channels import SLACK_API_URL, Channels
from wirewatch.alerts.errors import NotifierError
from wirewatch.alerts.matching import StoryView, alert_id, matches
from wirewatch.alerts.records import Alert
from wirewatch.alerts.subscriptions import Subscription

TEST_URL = "https://wirewatch.invalid/test"
SEND_TIMEOUT_SECONDS = 30.0  # one channel's test; real deliveries retry, a test reports


def trial_match(subscription: Subscription, title: str, topics: Sequence[str],
                salience: Mapping[str, float]) -> list[str] | None:
    """The query terms that held for an article with these tags, or None (silences ignored)."""
    view = StoryView(story_id="test", article_id="test", title=title, url=TEST_URL,
                     source="wirewatch test", topics=tuple(topics), entities=tuple(salience),
                     is_duplicate=False, salience=dict(salience))
    return matches(view, subscription)


async def send_test_alert(subscription: Subscription, title: str, channels: Channels, *,
                          dashboard_url: str | None = None,
                          slack_api_url: str = SLACK_API_URL) -> dict[str, str]:
    """Send one "[test]" alert to each channel of the subscription: channel -> outcome,
    "sent" or why not. Bypasses the outbox, ledger, schedule and silences on purpose."""
    now = datetime.now(UTC)
    alert = Alert(alert_id=alert_id(subscription.id, f"test-{now.isoformat()}"),
                  subscription_id=subscription.id, subscription_name=subscription.name,
                  owner=subscription.owner, channels=list(subscription.channels),
                  story_id="test", article_id="test", title=f"[test] {title}", url=TEST_URL,
                  source="wirewatch", topics=[], entities=[], created_at=now)
    outcomes: dict[str, str] = {}
    async with aiohttp.ClientSession() as session:
        notifiers = channels.notifiers(session, dashboard_url=dashboard_url,
                                       slack_api_url=slack_api_url)
        for channel in subscription.channels:
            notifier = notifiers.get(channel)
            if notifier is None:
                outcomes[channel] = "not defined in the channels file"
                continue
            try:
                async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                    await notifier.notify(alert)
                outcomes[channel] = "sent"
            except NotifierError as exc:
                outcomes[channel] = f"failed ({exc.reason}): {exc}"
            except TimeoutError:
                outcomes[channel] = f"failed (timeout): no answer in {SEND_TIMEOUT_SECONDS:.0f} s"
    return outcomes
