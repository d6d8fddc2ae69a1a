"""How HTTP answers map to delivery outcomes, shared by the Slack webhook and JSON webhook."""

from __future__ import annotations

import asyncio

import aiohttp
from wirewatch.alerts.errors import NotifierError

MAX_RETRY_AFTER = 300.0  # seconds; a larger Retry-After is capped, not obeyed blindly


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form); None when absent or odd."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def check_response(channel: str, status: int, body: str, headers: dict[str, str]) -> None:
    """Raise the NotifierError an HTTP answer means; return for 2xx."""
    if 200 <= status < 300:
        return
    detail = " ".join(body.split())[:200] or "(empty body)"
    if status == 429:
        raise NotifierError(f"{channel}: rate limited (HTTP 429): {detail}", retryable=True,
                            retry_after=retry_after(headers.get("Retry-After")),
                            reason="rate_limited")
    if status >= 500 or status == 408:
        raise NotifierError(f"{channel}: server error (HTTP {status}): {detail}",
                            retryable=True, reason=f"http_{status}")
    raise NotifierError(f"{channel}: refused (HTTP {status}): {detail}", retryable=False,
                        reason=f"http_{status}")


async def post(session: aiohttp.ClientSession, channel: str, url: str, *, data: bytes,
               headers: dict[str, str], timeout: float) -> str:
    """POST and classify the answer; network failures and timeouts are retryable."""
    try:
        async with session.post(url, data=data, headers=headers, allow_redirects=False,
                                timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            body = await response.text(errors="replace")
            check_response(channel, response.status, body, dict(response.headers))
            return body
    except (TimeoutError, asyncio.TimeoutError) as exc:
        raise NotifierError(f"{channel}: no answer within {timeout:g}s", retryable=True,
                            reason="timeout") from exc
    except aiohttp.ClientError as exc:
        raise NotifierError(f"{channel}: {type(exc).__name__}: {exc}", retryable=True,
                            reason="connection") from exc
