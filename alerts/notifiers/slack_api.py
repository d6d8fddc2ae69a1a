"""Slack Web API (`chat.postMessage` via slack-sdk): a bot posts to a channel and can thread
updates under the first message of a story."""

from __future__ import annotations

import asyncio

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from wirewatch.alerts.errors import NotifierError
from wirewatch.alerts.notifiers.http import retry_after
from wirewatch.alerts.records import Alert
from wirewatch.alerts.render import slack_message

# Web API errors a retry can fix; every other `ok: false` error is the request's fault
# (channel_not_found, is_archived, not_in_channel, invalid_auth, invalid_blocks, ...).
RETRYABLE_ERRORS = frozenset({"ratelimited", "rate_limited", "internal_error", "fatal_error",
                              "service_unavailable", "request_timeout"})


class SlackApiNotifier:
    """Posts with a bot token; returns the message `ts` so updates can reply in its thread."""

    def __init__(self, name: str, token: str, channel: str, session: aiohttp.ClientSession, *,
                 base_url: str = AsyncWebClient.BASE_URL, dashboard_url: str | None = None,
                 timeout: float = 10.0) -> None:
        self.name, self.channel, self.dashboard_url = name, channel, dashboard_url
        self.timeout = timeout
        self.client = AsyncWebClient(token=token, base_url=base_url, session=session,
                                     timeout=int(timeout))

    async def notify(self, alert: Alert, thread: str | None = None) -> str | None:
        message = slack_message(alert, self.dashboard_url)
        try:
            response = await asyncio.wait_for(self.client.chat_postMessage(
                channel=self.channel, thread_ts=thread, **message), self.timeout)
        except SlackApiError as exc:
            raise self._error(exc) from exc
        except (TimeoutError, asyncio.TimeoutError) as exc:
            raise NotifierError(f"{self.name}: no answer within {self.timeout:g}s",
                                retryable=True, reason="timeout") from exc
        except (aiohttp.ClientError, SlackClientError) as exc:
            raise NotifierError(f"{self.name}: {type(exc).__name__}: {exc}", retryable=True,
                                reason="connection") from exc
        ts = response.get("ts")
        return str(ts) if ts else None

    def _error(self, exc: SlackApiError) -> NotifierError:
        response = exc.response
        status = int(getattr(response, "status_code", None) or getattr(response, "status", 0)
                     or 0)
        headers = dict(getattr(response, "headers", {}) or {})
        data = getattr(response, "data", None)
        error = data.get("error", "") if isinstance(data, dict) else ""
        if status == 429 or error in ("ratelimited", "rate_limited"):
            return NotifierError(f"{self.name}: rate limited", retryable=True,
                                 retry_after=retry_after(headers.get("Retry-After")),
                                 reason="rate_limited")
        if status >= 500 or error in RETRYABLE_ERRORS:
            return NotifierError(f"{self.name}: Slack error {error or status}", retryable=True,
                                 reason=error or f"http_{status}")
        return NotifierError(f"{self.name}: Slack refused the message: {error or status}",
                             retryable=False, reason=error or f"http_{status}")
