"""The silences page, Alertmanager-style: what is muted, by whom, why and until when; add a
silence of any kind for any duration, or expire one now.

Silences are the store's (alerts/store.py), the ones the CLI and the JSON API set: workers
see a change within their refresh interval. A refused form comes back with the reason and
everything typed. A subscriber sees and sets only silences of their own subscriptions
(muting an entity, story or source would mute it for everybody); operators and admins
see and set them all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import urlencode

from aiohttp import web
from wirewatch.alerts.accounts import User
from wirewatch.alerts.errors import SubscriptionError
from wirewatch.alerts.store import MAX_COMMENT, MUTE_KINDS, SubscriptionStore
from wirewatch.alerts.vocabulary import Vocabulary
from wirewatch.streams.ops.site import Site
from wirewatch.streams.replay.window import parse_duration

BLANK = {"kind": "subscription", "value": "", "duration": "2h", "until": "", "comment": ""}
OWN_KINDS = ("subscription",)  # what a subscriber may mute: their own subscriptions


def silence_end(fields: Mapping[str, str], now: datetime) -> datetime:
    """The end the form asks for: `until` (an ISO or datetime-local time, UTC unless it
    says otherwise) if given, else now + `duration` (30m, 2h, 1d12h, 1w)."""
    until, duration = fields.get("until", "").strip(), fields.get("duration", "").strip()
    if until:
        try:
            end = datetime.fromisoformat(until)
        except ValueError:
            raise SubscriptionError(f"Until: {until!r} is not a time; write e.g. "
                                    "2026-12-01T09:00 (UTC) or 2026-12-01T09:00+01:00") from None
        end = end if end.tzinfo else end.replace(tzinfo=UTC)
        if end <= now:
            raise SubscriptionError(f"Until: {until} is past already")
        return end
    length = parse_duration(duration.lower()) if duration else None
    if length is None or length.total_seconds() <= 0:
        raise SubscriptionError(f"For: {duration!r} is not a duration; write e.g. 30m, 2h, "
                                "1d12h or 1w, or give an end time" if duration else
                                "Say for how long (e.g. 2h) or until when")
    return now + length


def add_silence_pages(app: web.Application, site: Site, store: SubscriptionStore,
                      vocabulary: Callable[[], Vocabulary]) -> None:
    async def own_ids(user: User) -> set[str]:
        return {s.id for s in await store.list() if user.owns(s.owner)}

    async def page(request: web.Request, user: User, *, values: Mapping[str, str],
                   error: str = "", status: int = 200) -> web.Response:
        subscriptions = [s for s in await store.list() if user.owns(s.owner)]
        known, ids = vocabulary(), {s.id for s in subscriptions}
        silences = [s for s in await store.silence_list()
                    if user.sees_all or (s.kind == "subscription" and s.value in ids)]
        what, shown = request.query.get("done", ""), request.query.get("what", "")
        message = {"added": f"Silenced {shown}.",
                   "expired": f"Expired the silence of {shown}."}.get(what, "")
        return site.render("silences.html", request, status=status,
                           silences=silences, now=time.time(),
                           kinds=MUTE_KINDS if user.sees_all else OWN_KINDS, values=values,
                           error=error, message=message,
                           subscriptions=subscriptions, max_comment=MAX_COMMENT,
                           entities=[(e, known.labels.get(e, "")) for e in sorted(known.entities)])

    def done(what: str, kind: str, value: str) -> web.HTTPSeeOther:
        return web.HTTPSeeOther("/silences?" + urlencode({"done": what,
                                                          "what": f"{kind} {value}"}))

    async def checked_value(kind: str, value: str, user: User) -> str:
        """The value to mute, or the reason it cannot be (it could never silence anything,
        or it is not this account's to silence)."""
        kinds = MUTE_KINDS if user.sees_all else OWN_KINDS
        if kind not in kinds:
            raise SubscriptionError(f"Kind: mute one of {', '.join(kinds)}")
        if not value:
            raise SubscriptionError("Say what to mute: a subscription id, an entity id or a "
                                    "story id")
        if kind == "subscription" and value not in await own_ids(user):
            raise SubscriptionError(f"no subscription {value!r}")
        if kind == "entity":
            known = vocabulary()
            value = value.lower()
            if value not in known.entities:
                hints = known.suggestions("entity", value)
                raise SubscriptionError(f"unknown entity {value!r}" + (
                    f": did you mean {' or '.join(hints)}?" if hints else ""))
        return value

    async def list_page(request: web.Request) -> web.Response:
        return await page(request, site.require_user(request), values=BLANK)

    async def add(request: web.Request) -> web.StreamResponse:
        posted = await site.form(request)
        user = site.require_user(request)
        values = {key: posted.get(key, "") for key in BLANK}
        kind = values["kind"]
        try:
            value = await checked_value(kind, values["value"].strip(), user)
            end = silence_end(values, datetime.now(UTC))
            await store.mute(kind, value, end, created_by=user.name,
                             comment=values["comment"].strip())
        except SubscriptionError as exc:
            return await page(request, user, values=values, error=str(exc), status=400)
        raise done("added", kind, value)

    async def expire(request: web.Request) -> web.StreamResponse:
        posted = await site.form(request)
        user = site.require_user(request)
        kind, value = posted.get("kind", ""), posted.get("value", "")
        if not user.sees_all and (kind not in OWN_KINDS or value not in await own_ids(user)):
            raise web.HTTPNotFound(text=f"no silence of {kind} {value!r} of yours")
        await store.unmute(kind, value)  # already over is as good as expired
        raise done("expired", kind, value)

    app.router.add_get("/silences", list_page)
    app.router.add_post("/silences", add)
    app.router.add_post("/silences/expire", expire)
