"""Subscription pages: list, create, edit, mute, delete, test-send, preview and history,
behind a login (the silences page is silence_pages.py's). A subscriber sees and changes
only the subscriptions they own (another's answer 404, as if they did not exist) and
creates them as their own; operators and admins see every owner's.

Changes go to the same Redis store the CLI and the JSON API write; workers pick them up
within `subscriptions_refresh_seconds`. A form with a mistake comes back with the
reason and everything that was typed, never half-saved.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy
from wirewatch.alerts.accounts import User
from wirewatch.alerts.errors import SubscriptionError
from wirewatch.alerts.probe import trial_match
from wirewatch.alerts.store import SubscriptionStore
from wirewatch.alerts.subscriptions import (
    MODES,
    NEW_PER,
    Subscription,
    check_channels,
    check_terms,
    from_mapping,
)
from wirewatch.alerts.vocabulary import Vocabulary
from wirewatch.streams.events.log import EventLog
from wirewatch.streams.ops.activity import KEEP, Activity, Delivery
from wirewatch.streams.ops.auth import BOOTSTRAP_ADMIN
from wirewatch.streams.ops.silence_pages import add_silence_pages
from wirewatch.streams.ops.site import Site
from wirewatch.streams.ops.subscription_form import (
    BLANK,
    FIELDS,
    form_to_mapping,
    subscription_to_form,
)
from wirewatch.streams.ops.subscription_preview import Preview, preview

MUTE_CHOICES = {"3600": "1 hour", "14400": "4 hours", "86400": "1 day", "604800": "1 week"}
DONE = {"created": "Created", "saved": "Saved", "muted": "Muted", "unmuted": "Unmuted",
        "deleted": "Deleted"}
TEST_TITLE = "wirewatch test alert"  # what a test send is titled when the title is left empty
HISTORY = 50  # deliveries shown per subscription
TestSend = Callable[[Subscription, str], Awaitable[dict[str, str]]]
Tag = Callable[[str, str], tuple[list[str], dict[str, float]]]  # -> topics, entity salience


@dataclass(frozen=True)
class SubscriptionPagesConfig:
    store: SubscriptionStore
    channel_ids: frozenset[str]
    test_send: TestSend  # sends a test alert to each channel: channel -> outcome
    tag: Tag  # the worker's current tagger, for "would this article match?"
    vocabulary: Callable[[], Vocabulary]  # topic and entity ids a query may name, now
    activity: Activity | None = None  # recent deliveries, for alert history; None: none
    events: EventLog | None = None  # recent events, for the preview; None: no preview


def last_fired(deliveries: list[Delivery]) -> float | None:
    """When the latest of these deliveries (the latest first) reached its channel."""
    return next((d.at for d in deliveries if d.outcome == "sent"), None)


def add_subscription_pages(app: web.Application, site: Site,
                           config: SubscriptionPagesConfig) -> None:
    store = config.store
    add_silence_pages(app, site, store, config.vocabulary)

    async def kept_deliveries() -> dict[str, list[Delivery]]:
        # The deliveries stream keeps the latest KEEP of all subscriptions: history is
        # what is left of it, which the pages say.
        if config.activity is None:
            return {}
        return await config.activity.deliveries_by_subscription()

    async def own_deliveries(ids: list[str]) -> dict[str, list[Delivery]]:
        """Each subscription's kept deliveries, not those of an earlier subscription that
        had its id (deleted, then the id used again)."""
        kept, created = await kept_deliveries(), await store.created_at(ids)
        return {sid: [d for d in kept.get(sid, []) if (created[sid] or 0.0) <= d.at]
                for sid in ids}

    async def preview_of(subscription: Subscription) -> Preview | None:
        if config.events is None:
            return None
        return await preview(subscription, config.events, now=time.time())

    async def existing(request: web.Request, user: User) -> Subscription:
        """The subscription the path names, if this account may see it, else 404."""
        found = await store.get(request.match_info["id"])
        if found is None or not user.owns(found.owner):
            raise web.HTTPNotFound(text=f"no subscription {request.match_info['id']!r}")
        return found

    async def may_change(request: web.Request, user: User) -> None:
        """404 unless the subscription the path names is this account's or new."""
        if not user.sees_all and await store.get(request.match_info["id"]) is not None:
            await existing(request, user)

    def done(what: str, subscription_id: str) -> web.HTTPSeeOther:
        return web.HTTPSeeOther("/subscriptions?" + urlencode({"done": what,
                                                               "id": subscription_id}))

    def form_page(request: web.Request, *, values: dict[str, str], chosen: list[str],
                  editing: bool, error: str = "", status: int = 200,
                  shown: Preview | None = None) -> web.Response:
        return site.render("subscription_form.html", request, status=status, values=values,
                           chosen=chosen, editing=editing, error=error, modes=MODES,
                           channel_ids=sorted(config.channel_ids),
                           terms=config.vocabulary().terms(), preview=shown,
                           previews=config.events is not None)

    async def submitted(request: web.Request, posted: MultiDictProxy[str],
                        subscription_id: str | None, user: User) -> Subscription | web.Response:
        """The subscription the form describes, or the form again with the mistake."""
        values = {key: posted.get(key, "") for key in FIELDS}
        if not user.sees_all:
            values["owner"] = user.name  # a subscriber's are their own, whatever was typed
        if subscription_id is not None:
            values["id"] = subscription_id
        chosen = posted.getall("channels", [])
        try:
            subscription = from_mapping(form_to_mapping(values, chosen), "form",
                                        default_per=NEW_PER)
            check_channels([subscription], config.channel_ids)
            check_terms([subscription], config.vocabulary())
            if subscription_id is None and await store.get(subscription.id) is not None:
                raise SubscriptionError(f"a subscription with id {subscription.id!r} exists "
                                        "already: pick another name or id")
        except SubscriptionError as exc:
            return form_page(request, values=values, chosen=chosen,
                             editing=subscription_id is not None,
                             error=str(exc).removeprefix("form: "), status=400)
        return subscription

    async def list_page(request: web.Request) -> web.Response:
        user = site.require_user(request)
        shown = [s for s in await store.list() if user.owns(s.owner)]
        ids = {s.id for s in shown}
        muted = {member.partition(":")[2]: until
                 for member, until in (await store.silences()).items()
                 if member.startswith("subscription:") and member.partition(":")[2] in ids}
        what, subscription_id = request.query.get("done", ""), request.query.get("id", "")
        message = f"{DONE[what]} {subscription_id}." if what in DONE else ""
        fired = {sid: last_fired(found)
                 for sid, found in (await own_deliveries(sorted(ids))).items() if found}
        return site.render("subscriptions.html", request, subscriptions=shown,
                           muted=muted, message=message, mute_choices=MUTE_CHOICES,
                           fired=fired, history=config.activity is not None)

    async def new_page(request: web.Request) -> web.Response:
        user = site.require_user(request)
        owner = "" if user.name == BOOTSTRAP_ADMIN else user.name  # the token names nobody
        return form_page(request, values={**dict.fromkeys(FIELDS, ""), **BLANK,
                                          "owner": owner}, chosen=[], editing=False)

    async def create(request: web.Request) -> web.StreamResponse:
        posted = await site.form(request)
        result = await submitted(request, posted, None, site.require_user(request))
        if isinstance(result, web.Response):
            return result
        await store.save(result)
        raise done("created", result.id)

    async def edit_page(request: web.Request) -> web.Response:
        subscription = await existing(request, site.require_user(request))
        return form_page(request, values=subscription_to_form(subscription),
                         chosen=list(subscription.channels), editing=True)

    async def save(request: web.Request) -> web.StreamResponse:
        posted = await site.form(request)
        user = site.require_user(request)
        await may_change(request, user)
        result = await submitted(request, posted, request.match_info["id"], user)
        if isinstance(result, web.Response):
            return result
        await store.save(result)
        raise done("saved", result.id)

    async def mute(request: web.Request) -> web.StreamResponse:
        posted = await site.form(request)
        user = site.require_user(request)
        subscription = await existing(request, user)
        seconds = posted.get("seconds", "")
        if seconds not in MUTE_CHOICES:
            raise web.HTTPBadRequest(text=f"mute for one of {list(MUTE_CHOICES.values())}")
        until = datetime.now(UTC) + timedelta(seconds=int(seconds))
        try:
            await store.mute("subscription", subscription.id, until,
                             created_by=user.name,
                             comment=posted.get("comment", "").strip())
        except SubscriptionError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        raise done("muted", subscription.id)

    async def unmute(request: web.Request) -> web.StreamResponse:
        await site.form(request)
        await may_change(request, site.require_user(request))
        await store.unmute("subscription", request.match_info["id"])
        raise done("unmuted", request.match_info["id"])

    async def delete(request: web.Request) -> web.StreamResponse:
        await site.form(request)
        subscription = await existing(request, site.require_user(request))
        await store.remove(subscription.id)
        raise done("deleted", subscription.id)

    def test_page(request: web.Request, subscription: Subscription, *, title: str, body: str,
                  held: list[str] | None = None, tags: tuple[list[str], dict[str, float]]
                  | None = None, outcomes: dict[str, str] | None = None) -> web.Response:
        return site.render("subscription_test.html", request, subscription=subscription,
                           title=title, body=body, held=held, tags=tags, outcomes=outcomes)

    async def test_form(request: web.Request) -> web.Response:
        return test_page(request, await existing(request, site.require_user(request)),
                         title="", body="")

    async def test(request: web.Request) -> web.Response:
        posted = await site.form(request)
        subscription = await existing(request, site.require_user(request))
        typed = posted.get("title", "").strip()
        title = typed or TEST_TITLE  # the placeholder is what an empty title sends
        body = posted.get("body", "")
        tags = config.tag(title, body)
        held = trial_match(subscription, title, *tags)
        outcomes = (await config.test_send(subscription, title)
                    if posted.get("action") == "send" else None)
        return test_page(request, subscription, title=typed, body=body, held=held, tags=tags,
                         outcomes=outcomes)

    async def preview_form(request: web.Request) -> web.Response:
        """The form as typed, with what its query would have matched: nothing is saved."""
        posted = await site.form(request)
        editing = "id" in request.match_info
        if editing:
            await existing(request, site.require_user(request))
        values = {key: posted.get(key, "") for key in FIELDS}
        if editing:
            values["id"] = request.match_info["id"]
        chosen = posted.getall("channels", [])
        try:
            # Neither the name nor where alerts go changes what matches: stand-ins will do.
            subscription = from_mapping(form_to_mapping(
                {**values, "name": values["name"] or "preview"}, chosen or ["console"]),
                "form", default_per=NEW_PER)
            check_terms([subscription], config.vocabulary())
        except SubscriptionError as exc:
            return form_page(request, values=values, chosen=chosen, editing=editing,
                             error=str(exc).removeprefix("form: "), status=400)
        return form_page(request, values=values, chosen=chosen, editing=editing,
                         shown=await preview_of(subscription))

    async def history_page(request: web.Request) -> web.Response:
        subscription = await existing(request, site.require_user(request))
        deliveries = (await own_deliveries([subscription.id]))[subscription.id]
        silenced = (await store.silences()).get(f"subscription:{subscription.id}")
        return site.render("subscription_detail.html", request, subscription=subscription,
                           deliveries=deliveries[:HISTORY], last_fired=last_fired(deliveries),
                           history=config.activity is not None, kept=KEEP, muted=silenced,
                           preview=await preview_of(subscription),
                           previews=config.events is not None)

    app.router.add_get("/subscriptions", list_page)
    app.router.add_get("/subscriptions/new", new_page)
    app.router.add_post("/subscriptions/new", create)
    app.router.add_post("/subscriptions/new/preview", preview_form)  # before {id}'s routes
    app.router.add_get("/subscriptions/{id}", edit_page)
    app.router.add_post("/subscriptions/{id}", save)
    app.router.add_post("/subscriptions/{id}/mute", mute)
    app.router.add_post("/subscriptions/{id}/unmute", unmute)
    app.router.add_post("/subscriptions/{id}/delete", delete)
    app.router.add_post("/subscriptions/{id}/preview", preview_form)
    app.router.add_get("/subscriptions/{id}/history", history_page)
    app.router.add_get("/subscriptions/{id}/test", test_form)
    app.router.add_post("/subscriptions/{id}/test", test)
