"""What every web page shares: Jinja2 rendering with autoescape and safe headers, the login
guard and the CSRF check on posted forms."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from multidict import MultiDict, MultiDictProxy
from wirewatch.alerts.escape import safe_url
from wirewatch.streams.ops.auth import FailedLogins, WebAuth
from wirewatch.streams.ops.when import ago, when

TEMPLATES = Path(__file__).with_name("templates")
HEADERS = {"Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                                      "style-src 'unsafe-inline'; img-src 'self' data:; "
                                      "form-action 'self'; frame-ancestors 'none'",
           "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
           "Referrer-Policy": "same-origin"}


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

    def __init__(self, auth: WebAuth, failed: FailedLogins | None = None) -> None:
        self.auth = auth
        self.failed = failed or FailedLogins()
        self.environment = _environment()

    def render(self, name: str, request: web.Request, *, status: int = 200,
               **values: Any) -> web.Response:
        user = self.auth.user_of(request)
        html = self.environment.get_template(name).render(
            user=user, actions=self.auth.enabled, auth_mode=self.auth.mode,
            csrf=self.auth.csrf(request) if user else "", **values)
        return web.Response(text=html, status=status, content_type="text/html",
                            headers={**HEADERS, "Cache-Control": "no-store"})

    def require_user(self, request: web.Request) -> str:
        """The logged-in user, else the login challenge is raised."""
        address = request.remote or ""
        if self.failed.blocked(address):
            raise self.failed.refusal()
        user = self.auth.user_of(request)
        if user is None:
            if self.auth.mode == "basic" and "Authorization" in request.headers:
                self.failed.record(address)  # a wrong password, not just a first visit
            raise self.auth.challenge(request)
        return user

    async def form(self, request: web.Request) -> MultiDictProxy[str]:
        """The posted form of a logged-in user carrying this session's CSRF token, else 403."""
        posted = await request.post()
        if self.auth.user_of(request) is None:
            raise web.HTTPForbidden(text="log in first")
        if not hmac.compare_digest(str(posted.get("csrf", "")).encode(),
                                   self.auth.csrf(request).encode()):
            raise web.HTTPForbidden(text="missing or wrong CSRF token (reload the page)")
        # Text fields only: these pages take no uploads.
        return MultiDictProxy(MultiDict(
            (key, value) for key, value in posted.items() if isinstance(value, str)))
