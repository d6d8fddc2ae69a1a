"""`wirewatch subscriptions ...` as a subscriber: through the HTTP API with their API key.

With `WIREWATCH_API_KEY` set, the subscription commands send their requests to the API
(`WIREWATCH_API_URL`) instead of writing Redis, so the API decides what the key's user may
see and change, exactly as for any other program: a subscriber's own subscriptions and
their silences, an operator's or admin's everything. Without it the commands talk to Redis
directly, as an operator's tool on a machine that reaches it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import click

from wirewatch.streams.settings import Settings

TIMEOUT = aiohttp.ClientTimeout(total=30)


def api_key(settings: Settings) -> str:
    return settings.api_key.get_secret_value() if settings.api_key else ""


def api_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.web_host in ("0.0.0.0", "::", "") \
        else settings.web_host  # noqa: S104 - compared, not bound
    return (settings.api_url or f"http://{host}:{settings.api_port}").rstrip("/")


class ApiError(click.ClickException):
    """The API refused the request: its own words, and the status."""


def call(settings: Settings, method: str, path: str, body: Mapping[str, Any] | None = None,
         *, missing_ok: bool = False) -> Any:
    """One request to the API with the configured key; the JSON answer (None for 204, or
    for 404 with `missing_ok`). Refusals and unreachable APIs are one clear line."""
    url = api_url(settings) + path

    async def send() -> Any:
        headers = {"Authorization": f"Bearer {api_key(settings)}"}
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http, http.request(
                method, url, json=body, headers=headers) as response:
            if response.status == 204 or (missing_ok and response.status == 404):
                return None
            try:
                answer = await response.json(content_type=None)
            except ValueError:
                answer = {"error": (await response.text())[:200]}
            if response.status >= 400:
                reason = answer.get("error") if isinstance(answer, dict) else None
                raise ApiError(f"the API refused ({response.status}): {reason or answer}")
            return answer

    try:
        return asyncio.run(send())
    except aiohttp.ClientError as exc:
        raise click.ClickException(f"cannot reach the subscriptions API at {url}: {exc} "
                                   "(WIREWATCH_API_URL)") from exc
    except TimeoutError as exc:
        raise click.ClickException(f"the subscriptions API at {url} did not answer") from exc


def subscription_path(subscription_id: str = "") -> str:
    return "/api/v1/subscriptions" + (f"/{quote(subscription_id, safe='')}"
                                      if subscription_id else "")


def silence_path(kind: str = "", value: str = "") -> str:
    return "/api/v1/silences" + (f"/{quote(kind, safe='')}/{quote(value, safe='')}"
                                 if kind else "")
