"""Who may act on the web pages: a token login (signed session cookie) or HTTP basic auth.

Every form that changes something also carries a CSRF token: an HMAC of the session under
the web token, so another site can neither read it nor forge it, and it dies with the
session. Without a web token nobody can log in and the pages are read-only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

from aiohttp import web

SESSION_COOKIE = "wirewatch_session"
SESSION_SECONDS = 12 * 3600
AuthMode = Literal["token", "basic"]


def local_path(target: str | None, default: str = "/") -> str:
    """`target` if it is a path on this site, else `default` (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def basic_credentials(header: str) -> tuple[str, str]:
    """(user, password) from an `Authorization: Basic ...` header; ("", "") if there is none."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        login, _, password = decoded.partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return login, password


@dataclass(frozen=True)
class WebAuth:
    secret: str = ""  # the web token (basic auth: the password); empty: nobody logs in
    mode: AuthMode = "token"
    user: str = "wirewatch"  # basic auth: the user name
    clock: Callable[[], float] = field(default=time.time, compare=False)

    @property
    def enabled(self) -> bool:
        return bool(self.secret)

    def _sign(self, text: str) -> str:
        return hmac.new(self.secret.encode(), text.encode(), hashlib.sha256).hexdigest()

    def check_token(self, offered: str) -> bool:
        return self.enabled and hmac.compare_digest(offered.encode(), self.secret.encode())

    def new_session(self) -> str:
        """A cookie value: expiry, a random nonce and their signature."""
        body = f"{int(self.clock()) + SESSION_SECONDS}.{secrets.token_urlsafe(12)}"
        return f"{body}.{self._sign('session:' + body)}"

    def user_of(self, request: web.Request) -> str | None:
        """The logged-in user's name, or None."""
        if not self.enabled:
            return None
        if self.mode == "basic":
            login, password = basic_credentials(request.headers.get("Authorization", ""))
            same_user = hmac.compare_digest(login.encode(), self.user.encode())
            return self.user if self.check_token(password) and same_user else None
        body, _, signature = request.cookies.get(SESSION_COOKIE, "").rpartition(".")
        if not body or not hmac.compare_digest(signature, self._sign("session:" + body)):
            return None
        expires = body.partition(".")[0]
        return "token" if expires.isdigit() and int(expires) > self.clock() else None

    def csrf(self, request: web.Request) -> str:
        """The CSRF token forms must carry for this request's session; ask only once
        `user_of` found the request logged in (callers have checked that already)."""
        basis = (f"basic:{self.user}" if self.mode == "basic"
                 else request.cookies.get(SESSION_COOKIE, ""))
        return self._sign("csrf:" + basis)

    def challenge(self, request: web.Request) -> web.HTTPException:
        """What a request that needs a login gets instead."""
        if not self.enabled:
            return web.HTTPForbidden(text="set WIREWATCH_WEB_TOKEN to enable logging in")
        if self.mode == "basic":
            return web.HTTPUnauthorized(
                text="log in", headers={"WWW-Authenticate": 'Basic realm="wirewatch", '
                                                            'charset="UTF-8"'})
        return web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='')}")


@dataclass
class FailedLogins:
    """Wrong secrets by client address: after `limit` within `window` seconds the address
    is refused until the oldest of them ages out, so the token cannot be guessed quickly."""

    limit: int = 10
    window: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def blocked(self, address: str) -> bool:
        recent = self._failures.get(address)
        if recent is None:
            return False
        cutoff = self.clock() - self.window
        while recent and recent[0] < cutoff:
            recent.popleft()
        if not recent:
            del self._failures[address]
        return len(recent) >= self.limit

    def record(self, address: str) -> None:
        if len(self._failures) > 10_000:  # bounded memory under a spray of addresses
            self._failures.clear()
        self._failures.setdefault(address, deque()).append(self.clock())

    def refusal(self) -> web.HTTPTooManyRequests:
        return web.HTTPTooManyRequests(
            text=f"too many wrong tokens from this address: wait {self.window:.0f} s",
            headers={"Retry-After": str(int(self.window))})
