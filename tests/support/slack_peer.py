"""A loopback Slack (incoming webhooks and chat.postMessage) with scriptable failures, for tests."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

TOKEN = "xoxb-wirewatch-test-token"  # noqa: S105 - a fake token for a loopback fake
FIRST_TS = 1_700_000_000_000_000  # microseconds; message ts count up from here in steps of 100


@dataclass(frozen=True)
class Reply:
    """A scripted answer; a dict body is sent as JSON, None means the endpoint's usual answer."""

    status: int
    body: str | dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def rate_limited(retry_after: int, *, api: bool = False) -> Reply:
    body: str | dict[str, Any] = {"ok": False, "error": "ratelimited"} if api else "rate_limited"
    return Reply(429, body, {"Retry-After": str(retry_after)})


def invalid_payload() -> Reply:
    return Reply(400, "invalid_payload")


def channel_not_found() -> Reply:
    return Reply(404, "channel_not_found")


def channel_is_archived() -> Reply:
    return Reply(410, "channel_is_archived")


def server_error() -> Reply:
    return Reply(500, "internal_error")


def hang(seconds: float) -> Reply:
    """Answer as usual, but only after `seconds` (or when the peer closes)."""
    return Reply(200, None, delay=seconds)


def api_error(error: str) -> Reply:
    """A Web API failure as Slack sends most of them: HTTP 200 with `ok: false`."""
    return Reply(200, {"ok": False, "error": error})


@dataclass(frozen=True)
class SlackRequest:
    """One request as the peer received it; `json` is the JSON body or the form fields."""

    method: str
    path: str
    headers: Mapping[str, str]
    json: Any
    raw: bytes
    arrived: float  # time.monotonic()


class SlackPeer:
    """Slack on a free 127.0.0.1 port: `webhook_url(name)`, `api_base_url` and `token`.

    `script(prefix, *replies)` queues replies; each request takes the first queued reply whose
    prefix its path starts with (None matches any path), otherwise it succeeds.
    """

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.requests: list[SlackRequest] = []
        self.posted: list[dict[str, Any]] = []  # the `message` of each successful postMessage
        self.base_url = ""
        self._script: list[tuple[str | None, Reply]] = []
        self._arrived = asyncio.Condition()
        self._closing = asyncio.Event()
        self._next_ts = FIRST_TS
        self._runner: web.AppRunner | None = None

    @property
    def api_base_url(self) -> str:
        return f"{self.base_url}/api/"

    def webhook_url(self, name: str) -> str:
        return f"{self.base_url}/webhook/{name}"

    def script(self, prefix: str | None, *replies: Reply) -> None:
        self._script.extend((prefix, reply) for reply in replies)

    async def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[SlackRequest]:
        try:
            async with asyncio.timeout(timeout), self._arrived:
                await self._arrived.wait_for(lambda: len(self.requests) >= n)
        except TimeoutError:
            raise TimeoutError(f"{len(self.requests)} of {n} requests after {timeout}s") from None
        return list(self.requests)

    async def __aenter__(self) -> SlackPeer:
        app = web.Application()
        app.router.add_post("/webhook/{name}", self._webhook)
        app.router.add_post("/api/{method}", self._api)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=2.0)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        except BaseException:
            await self._runner.cleanup()
            raise
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self._closing.set()  # release hanging replies
        if self._runner is not None:
            await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> tuple[SlackRequest, Reply | None]:
        raw = await request.read()
        body: Any = None
        if request.content_type == "application/x-www-form-urlencoded":
            body = dict((await request.post()).items())
            if "payload" in body and request.path.startswith("/webhook/"):
                body = _loads(str(body["payload"]))
        else:
            body = _loads(raw.decode("utf-8", "replace"))
        received = SlackRequest(request.method, request.path, request.headers, body, raw,
                                time.monotonic())
        scripted = None
        for i, (prefix, reply) in enumerate(self._script):
            if prefix is None or request.path.startswith(prefix):
                del self._script[i]
                scripted = reply
                break
        async with self._arrived:
            self.requests.append(received)
            self._arrived.notify_all()
        if scripted is not None and scripted.delay:
            try:
                await asyncio.wait_for(self._closing.wait(), scripted.delay)
            except TimeoutError:
                pass
        return received, scripted

    async def _webhook(self, request: web.Request) -> web.Response:
        received, scripted = await self._receive(request)
        if scripted is not None and scripted.body is not None:
            return _respond(scripted)
        body = received.json
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        if not (body.get("text") or body.get("blocks") or body.get("attachments")):
            return web.Response(status=400, text="no_text")
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.Response:
        received, scripted = await self._receive(request)
        if scripted is not None and scripted.body is not None:
            return _respond(scripted)
        if request.match_info["method"] != "chat.postMessage":
            return web.json_response({"ok": False, "error": "unknown_method"})
        params = received.json if isinstance(received.json, dict) else {}
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else params.get("token")
        if token != self.token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        channel = params.get("channel")
        if not channel:
            return web.json_response({"ok": False, "error": "channel_not_found"})
        if not (params.get("text") or params.get("blocks") or params.get("attachments")):
            return web.json_response({"ok": False, "error": "no_text"})
        self._next_ts += 100
        ts = f"{self._next_ts // 1_000_000}.{self._next_ts % 1_000_000:06d}"
        message: dict[str, Any] = {"type": "message", "user": "U0WIREWATCH",
                                   "bot_id": "B0WIREWATCH", "text": params.get("text", ""),
                                   "ts": ts}
        for key in ("blocks", "attachments", "thread_ts"):
            if params.get(key):
                message[key] = params[key]
        self.posted.append({"channel": channel, **message})
        return web.json_response({"ok": True, "channel": channel, "ts": ts, "message": message})


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _respond(reply: Reply) -> web.Response:
    if isinstance(reply.body, dict):
        return web.json_response(reply.body, status=reply.status, headers=reply.headers)
    return web.Response(status=reply.status, text=reply.body or "", headers=reply.headers)
