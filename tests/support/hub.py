"""A minimal real WebSub hub on loopback for tests: verifies intent, signs and pushes content."""

from __future__ import annotations

import asyncio
import inspect
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from wirewatch.connectors.websub import sign


@dataclass(frozen=True)
class HubRequest:
    """A subscribe or unsubscribe request as the hub received it."""

    mode: str
    topic: str
    callback: str
    secret: str | None
    lease_seconds: int | None


@dataclass(frozen=True)
class Verification:
    """One intent verification the hub made, and whether the subscriber echoed the challenge."""

    mode: str
    topic: str
    callback: str
    status: int
    echoed: bool


def bind_loopback() -> socket.socket:
    """A listening-ready socket on a free 127.0.0.1 port (known before the server starts)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


async def start_app(app: web.Application, sock: socket.socket) -> web.AppRunner:
    """Serve `app` on `sock`; call `cleanup()` on the runner to stop."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner


async def eventually(condition: Callable[[], bool | Awaitable[bool]], what: str,
                     timeout: float = 5.0, interval: float = 0.02) -> None:
    """Re-check `condition` until it holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


class LocalHub:
    """A hub at `url`: 202 to (un)subscribe, then a verification GET to the callback.

    `fail_subscribe` makes it answer 500; `grant_lease` overrides the lease it grants.
    """

    def __init__(self) -> None:
        self.fail_subscribe = False
        self.grant_lease: int | None = None
        self.requests: list[HubRequest] = []
        self.verifications: list[Verification] = []
        self.subscribers: dict[tuple[str, str], HubRequest] = {}  # (topic, callback) -> lease
        self.url = ""
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> LocalHub:
        app = web.Application()
        app.router.add_post("/", self._handle)
        sock = bind_loopback()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        self._session = aiohttp.ClientSession()
        self._runner = await start_app(app, sock)
        return self

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def requests_for(self, topic: str, mode: str = "subscribe") -> list[HubRequest]:
        return [r for r in self.requests if r.topic == topic and r.mode == mode]

    def verified(self, topic: str, mode: str = "subscribe") -> list[Verification]:
        return [v for v in self.verifications if v.topic == topic and v.mode == mode and v.echoed]

    async def _handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        mode, topic, callback = (str(form.get(k, "")) for k in
                                 ("hub.mode", "hub.topic", "hub.callback"))
        if mode not in ("subscribe", "unsubscribe") or not topic or not callback:
            return web.Response(status=400)
        lease = form.get("hub.lease_seconds")
        secret = form.get("hub.secret")
        received = HubRequest(mode, topic, callback, str(secret) if secret else None,
                              int(str(lease)) if lease else None)
        self.requests.append(received)
        if self.fail_subscribe:
            return web.Response(status=500, text="hub is down")
        # Verify after answering, as a real hub does: the 202 comes first.
        task = asyncio.get_running_loop().create_task(self._verify_intent(received))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.Response(status=202)

    async def _verify_intent(self, received: HubRequest) -> None:
        lease = self.grant_lease or received.lease_seconds or 864000
        status, echoed = await self.verify(received.callback, received.mode, received.topic,
                                           lease_seconds=lease)
        if not echoed:
            return
        key = (received.topic, received.callback)
        if received.mode == "subscribe":
            self.subscribers[key] = received
        else:
            self.subscribers.pop(key, None)

    async def verify(self, callback: str, mode: str, topic: str,
                     lease_seconds: int | None = None) -> tuple[int, bool]:
        """Send one verification GET with a fresh challenge: (status, challenge echoed)."""
        assert self._session is not None
        challenge = secrets.token_urlsafe(16)
        params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if lease_seconds is not None:
            params["hub.lease_seconds"] = str(lease_seconds)
        async with self._session.get(callback, params=params) as response:
            text = await response.text()
        echoed = response.status == 200 and text == challenge
        self.verifications.append(Verification(mode, topic, callback, response.status, echoed))
        return response.status, echoed

    async def deny(self, callback: str, topic: str, reason: str = "") -> int:
        assert self._session is not None
        params = {"hub.mode": "denied", "hub.topic": topic, "hub.reason": reason}
        async with self._session.get(callback, params=params) as response:
            return response.status

    async def publish(self, topic: str, body: bytes, *, content_type: str = "application/atom+xml",
                      signature: str = "valid", algo: str = "sha256") -> list[int]:
        """POST `body` to every verified subscriber of `topic`; the status each answered.

        `signature`: "valid", "bad" (signed with another secret) or "none" (no header).
        """
        assert self._session is not None
        statuses = []
        for (sub_topic, callback), lease in list(self.subscribers.items()):
            if sub_topic != topic:
                continue
            headers = {"Content-Type": content_type,
                       "Link": f'<{self.url}>; rel="hub", <{topic}>; rel="self"'}
            if signature != "none" and lease.secret:
                secret = lease.secret if signature == "valid" else "not-the-secret"
                headers["X-Hub-Signature"] = sign(secret, body, algo)
            async with self._session.post(callback, data=body, headers=headers) as response:
                statuses.append(response.status)
        return statuses
