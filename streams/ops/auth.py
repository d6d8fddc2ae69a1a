"""Who may act on the web pages: an account (or the web token) behind a signed session
cookie, HTTP basic auth, or a user name a trusted proxy passes on (single sign-on).

The session cookie names the user; their role is looked up in Redis on every request, so
removing a user or changing their role takes effect at once. Every form that changes
something also carries a CSRF token: an HMAC of the session under the signing secret, so
another site can neither read it nor forge it, and it dies with the session. Wrong
passwords back off per (address, account) (alerts/logins.py); a request with a valid
session is never refused. Without a web token or accounts nobody logs in and the pages
are read-only.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

from aiohttp import web
from wirewatch.alerts.accounts import NAME, User, UserStore, at_least
from wirewatch.alerts.logins import TOKEN_ACCOUNT, LoginLimits

SESSION_COOKIE = "wirewatch_session"
SESSION_SECONDS = 12 * 3600
AuthMode = Literal["token", "basic", "proxy"]
BOOTSTRAP_ADMIN = "web token"  # who the web token logs in as; no user name can be this
ACCOUNT = web.RequestKey("account", User)  # the request's account, once known
REFUSED = web.RequestKey("refused", float)  # seconds the request's credentials must wait
BASIC_CACHE_SECONDS = 60.0  # a verified basic-auth password is not re-hashed for this long

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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


def bootstrap_admin(name: str = BOOTSTRAP_ADMIN) -> User:
    """The web token's (or the API token's) account: an admin that is no stored user."""
    return User(name, "admin", 0.0)


def refusal(seconds: float) -> web.HTTPTooManyRequests:
    wait = max(1, int(seconds + 0.999))
    return web.HTTPTooManyRequests(
        text=f"too many wrong passwords for this account from this address: wait {wait} s",
        headers={"Retry-After": str(wait)})


@dataclass(frozen=True)
class WebAuth:
    secret: str = ""  # the web token (basic auth: the password); empty: no bootstrap admin
    mode: AuthMode = "token"
    user: str = "wirewatch"  # basic auth: the web token's user name
    proxy_header: str = "X-Forwarded-User"  # proxy mode: who the proxy says the user is
    proxy_from: frozenset[str] = frozenset({"127.0.0.1", "::1"})  # proxy mode: its addresses
    proxy_role: str = ""  # proxy mode: role of a name with no account here; "": refused
    session_secret: str = ""  # signs sessions when set (Redis keeps it for all replicas)
    clock: Callable[[], float] = field(default=time.time, compare=False)

    @property
    def enabled(self) -> bool:
        return bool(self.secret or self.session_secret)

    def _sign(self, text: str) -> str:
        key = self.session_secret or self.secret
        return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()

    def check_token(self, offered: str) -> bool:
        return bool(self.secret) and hmac.compare_digest(offered.encode(), self.secret.encode())

    def new_session(self, name: str = BOOTSTRAP_ADMIN) -> str:
        """A cookie value: expiry, a random nonce, the user's name and their signature."""
        who = base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")
        body = f"{int(self.clock()) + SESSION_SECONDS}.{secrets.token_urlsafe(12)}.{who}"
        return f"{body}.{self._sign('session:' + body)}"

    def session_name(self, request: web.Request) -> str | None:
        """The name a valid, unexpired session cookie carries, else None."""
        if not self.enabled:
            return None
        body, _, signature = request.cookies.get(SESSION_COOKIE, "").rpartition(".")
        if not body or not hmac.compare_digest(signature, self._sign("session:" + body)):
            return None
        expires, _, rest = body.partition(".")
        if not expires.isdigit() or int(expires) <= self.clock():
            return None
        who = rest.partition(".")[2]
        try:
            return base64.urlsafe_b64decode(who + "=" * (-len(who) % 4)).decode() or None
        except (binascii.Error, UnicodeDecodeError):
            return None

    def proxied_name(self, request: web.Request) -> str | None:
        """The user name the trusted proxy sent; None from any other address."""
        if self.mode != "proxy" or request.remote not in self.proxy_from:
            return None
        name = request.headers.get(self.proxy_header, "").strip().lower()
        return name if NAME.fullmatch(name) else None

    def user_of(self, request: web.Request) -> str | None:
        """The name the request's credentials give (no account lookup): a session's user,
        the basic-auth user when the password is the web token, or a proxied name."""
        if self.mode == "proxy":
            return self.proxied_name(request)
        if self.mode == "basic":
            login, password = basic_credentials(request.headers.get("Authorization", ""))
            same_user = hmac.compare_digest(login.encode(), self.user.encode())
            return self.user if self.check_token(password) and same_user else None
        return self.session_name(request)

    def csrf(self, request: web.Request) -> str:
        """The CSRF token forms must carry for this request's session; ask only once the
        request was found logged in (callers have checked that already)."""
        if self.mode == "basic":
            basis = "basic:" + basic_credentials(request.headers.get("Authorization", ""))[0]
        elif self.mode == "proxy":
            basis = f"proxy:{self.proxied_name(request)}"
        else:
            basis = request.cookies.get(SESSION_COOKIE, "")
        return self._sign("csrf:" + basis)

    def challenge(self, request: web.Request) -> web.HTTPException:
        """What a request that needs a login gets instead."""
        if self.mode == "proxy":
            return web.HTTPForbidden(
                text=f"log in through the single sign-on proxy (it sends {self.proxy_header}); "
                     "a name without an account here is refused")
        if not self.enabled:
            return web.HTTPForbidden(text="set WIREWATCH_WEB_TOKEN (or add users with "
                                          "`wirewatch users add`) to enable logging in")
        if self.mode == "basic":
            return web.HTTPUnauthorized(
                text="log in", headers={"WWW-Authenticate": 'Basic realm="wirewatch", '
                                                            'charset="UTF-8"'})
        return web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='')}")


class Gate:
    """Finds who a request is: the web token's admin or an account from Redis, through the
    configured mode, with the login limits on every password that is checked."""

    def __init__(self, auth: WebAuth, users: UserStore | None = None,
                 limits: LoginLimits | None = None) -> None:
        self.auth, self.users = auth, users
        self.limits = limits or LoginLimits()
        self._verified: dict[tuple[str, str], tuple[str, float]] = {}  # basic auth cache
        if auth.mode == "proxy" and not auth.enabled:
            # Nothing else to sign CSRF tokens with: this process's own secret.
            self.auth = dataclasses.replace(auth, session_secret=secrets.token_hex(32))

    async def start(self, app: web.Application) -> None:
        """With accounts, sign sessions with the secret all replicas share in Redis."""
        if self.users is not None:
            self.auth = dataclasses.replace(self.auth,
                                            session_secret=await self.users.session_secret())

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        found = await self.identify(request)
        if found is not None:
            request[ACCOUNT] = found
        return await handler(request)

    def current(self, request: web.Request) -> User | None:
        """The account the middleware found for this request."""
        return request.get(ACCOUNT)

    async def identify(self, request: web.Request) -> User | None:
        if self.auth.mode == "proxy":
            return await self._proxied(request)
        if self.auth.mode == "basic":
            return await self._basic(request)
        name = self.auth.session_name(request)
        if name is None:
            return None
        if name == BOOTSTRAP_ADMIN:
            return bootstrap_admin() if self.auth.secret else None
        return await self.users.get(name) if self.users is not None else None

    async def _proxied(self, request: web.Request) -> User | None:
        name = self.auth.proxied_name(request)
        if name is None:
            return None
        user = await self.users.get(name) if self.users is not None else None
        if user is None and at_least(self.auth.proxy_role, "subscriber"):
            return User(name, self.auth.proxy_role, 0.0)  # type: ignore[arg-type]
        return user

    async def _basic(self, request: web.Request) -> User | None:
        login, password = basic_credentials(request.headers.get("Authorization", ""))
        if not login and not password:
            return None
        account = TOKEN_ACCOUNT if login == self.auth.user else login
        return await self.password(request, account, password, basic=True)

    async def password(self, request: web.Request, name: str, password: str, *,
                       basic: bool = False) -> User | None:
        """The account `name` (TOKEN_ACCOUNT: the web token's) when `password` is its, else
        None; a wrong one counts against (address, name), and while that pair backs off
        the request is marked refused (REFUSED) without the password being checked."""
        address = request.remote or ""
        wait = await self.limits.wait(address, name)
        if wait > 0:
            request[REFUSED] = wait
            return None
        user = await self._check(name, password, basic)
        if user is None:
            await self.limits.failed(address, name)
        else:
            await self.limits.succeeded(address, name)
        return user

    async def _check(self, name: str, password: str, basic: bool) -> User | None:
        if name == TOKEN_ACCOUNT:
            if not self.auth.check_token(password):
                return None
            return bootstrap_admin(self.auth.user if basic else BOOTSTRAP_ADMIN)
        if self.users is None:
            return None
        if not basic:
            return await self.users.verify(name, password)
        # Every page view sends the password: argon2 once a minute, not on each request.
        # The cache holds the stored hash it checked, so a reset or removal ends it at once.
        digest = hashlib.sha256(f"{name}\n{password}".encode()).hexdigest()
        stored = await self.users.get(name)
        cached = self._verified.get((name, digest))
        if (stored is not None and cached is not None and cached[0] == stored.password_hash
                and time.monotonic() - cached[1] < BASIC_CACHE_SECONDS):
            return stored
        user = await self.users.verify(name, password)
        if user is not None:
            if len(self._verified) > 1000:
                self._verified.clear()
            self._verified[(name, digest)] = (user.password_hash, time.monotonic())
        return user
