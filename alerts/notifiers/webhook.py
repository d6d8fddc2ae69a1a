"""Generic JSON webhook: the alert as JSON, signed with HMAC-SHA256 so receivers can verify it.

Headers: `X-Wirewatch-Timestamp` (Unix seconds) and `X-Wirewatch-Signature`
(`sha256=` + hex HMAC of `timestamp.body` with the shared secret). Receivers should reject
timestamps older than a few minutes, which stops replays of a captured request.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import aiohttp
from wirewatch.alerts.notifiers.http import post
from wirewatch.alerts.records import Alert, encode_alert


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body,
                                hashlib.sha256).hexdigest()


class WebhookNotifier:
    """POSTs the Alert record (the news.alerts.v1 JSON) to a URL, signed."""

    def __init__(self, name: str, url: str, secret: bytes, session: aiohttp.ClientSession, *,
                 timeout: float = 10.0) -> None:
        self.name, self.url, self.secret, self.session = name, url, secret, session
        self.timeout = timeout

    async def notify(self, alert: Alert, thread: str | None = None) -> str | None:
        body = encode_alert(alert)
        timestamp = str(int(time.time()))
        await post(self.session, self.name, self.url, data=body, timeout=self.timeout, headers={
            "Content-Type": "application/json", "X-Wirewatch-Timestamp": timestamp,
            "X-Wirewatch-Signature": signature(self.secret, timestamp, body),
            "X-Wirewatch-Alert-Id": alert.alert_id})
        return None
