"""What every web page shares: Jinja2 rendering with autoescape and safe headers, the login
guard and the CSRF check on posted forms."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from aiohttp import web
from multidict import MultiDict, MultiDictProxy
from wirewatch.alerts.accounts import Role, User, UserStore
from wirewatch.alerts.escape import safe_url
from wirewatch.alerts.logins import LoginLimits
from wirewatch.streams.ops.auth import REFUSED, Gate, WebAuth, refusal
from wirewatch.streams.ops.when import ago, when

TEMPLATES = Path(__file__).with_name("templates")
# Scripts and the one style block run only with this response's nonce: markup that a feed
# slipped past escaping could not run script or restyle the page, and no inline handler
# (onclick=) runs at all. Everything else comes from this origin or nowhere.
CSP = ("default-src 'self'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
       "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
           "Referrer-Policy": "same-origin"}


def security_headers(nonce: str) -> dict[str, str]:
    return {"Content-Security-Policy": CSP.format(nonce=nonce), **HEADERS}


def same_origin(request: web.Request) -> bool:
    """False when the browser says the request comes from another site: its Origin (or,
    without one, its Referer) names another host than the one it was sent to. Requests
    that carry neither (command-line clients) are left to the CSRF token and login."""
    claimed = request.headers.get("Origin") or request.headers.get("Referer")
    if not claimed:
        return True
    if claimed == "null":  # sandboxed frames, file: pages, some redirects: never ours
        return False
    host = urlsplit(claimed).netloc.lower()
    return hmac.compare_digest(host.encode(), request.host.lower().encode())


def secure_cookies(request: web.Request) -> bool:
    """Whether session cookies get `Secure`: served over TLS, or behind a proxy that says
    the browser used https (a client forging the header only locks itself out)."""
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                                     autoescape=True, undefined=jinja2.StrictUndefined)
    environment.filters["when"] = when
    environment.filters["ago"] = ago
    # Links come from feeds: only absolute http(s) ones become links (no javascript:, data:).
    environment.filters["safe_url"] = lambda url: safe_url(url or "")
    return environment


class Site:
    """Renders pages for a request and guards the ones that need a login."""

    def __init__(self, auth: WebAuth, users: UserStore | None = None,
                 limits: LoginLimits | None = None) -> None:
        self.gate = Gate(auth, users, limits)
        self.environment = _environment()

    @property
    def auth(self) -> WebAuth:
        return self.gate.auth  # the gate's: it signs with the shared secret once started

    def render(self, name: str, request: web.Request, *, status: int = 200,
               **values: Any) -> web.Response:
        account = self.gate.current(request)
        user = account.name if account is not None else None
        nonce = secrets.token_urlsafe(18)
        html = self.environment.get_template(name).render(
            user=user, role=account.role if account is not None else "",
            actions=self.auth.enabled or self.auth.mode == "proxy", auth_mode=self.auth.mode,
            csrf=self.auth.csrf(request) if user else "", nonce=nonce, **values)
        return web.Response(text=html, status=status, content_type="text/html",
                            headers={**security_headers(nonce), "Cache-Control": "no-store"})

    def require_user(self, request: web.Request, needs: Role = "subscriber") -> User:
        """The logged-in account, else the login challenge (or the back-off of wrong
        passwords) is raised; 403 when its role is below `needs`."""
        user = self.gate.current(request)
        if user is None:
            if REFUSED in request:
                raise refusal(float(request[REFUSED]))
            raise self.auth.challenge(request)
        if not user.at_least(needs):
            raise web.HTTPForbidden(text=f"this needs the {needs} role; {user.name} is "
                                         f"{user.role}")
        return user

    async def form(self, request: web.Request,
                   needs: Role = "subscriber") -> MultiDictProxy[str]:
        """The posted form of a logged-in account with the role `needs`, carrying this
        session's CSRF token, else 403."""
        if not same_origin(request):
            raise web.HTTPForbidden(text="refused: this form was sent from another site")
        posted = await request.post()
        user = self.gate.current(request)
        if user is None:
            raise web.HTTPForbidden(text="log in first")
        if not user.at_least(needs):
            raise web.HTTPForbidden(text=f"this needs the {needs} role; {user.name} is "
                                         f"{user.role}")
        if not hmac.compare_digest(str(posted.get("csrf", "")).encode(),
                                   self.auth.csrf(request).encode()):
            raise web.HTTPForbidden(text="missing or wrong CSRF token (reload the page)")
        # Text fields only: these pages take no uploads.
        return MultiDictProxy(MultiDict(
            (key, value) for key, value in posted.items() if isinstance(value, str)))
