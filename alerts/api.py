"""The subscriptions HTTP API (JSON, bearer token): what the CLI does, for other programs.

    GET    /api/v1/subscriptions              list
    POST   /api/v1/subscriptions              create (409 if the id exists)
    GET    /api/v1/subscriptions/{id}         one
    PUT    /api/v1/subscriptions/{id}         create or replace
    DELETE /api/v1/subscriptions/{id}         remove
    GET    /api/v1/silences                   active silences, with who set them and why
    POST   /api/v1/silences                   {"kind", "value", "until" (ISO) | "seconds",
                                               "comment"?, "created_by"?}
    DELETE /api/v1/silences/{kind}/{value}    lift one

The bearer is the API token (an admin) or a user's API key (`wirewatch users key create`),
with that user's rights: a subscriber lists, reads and changes only the subscriptions they
own (another's answer 404), creates them as their own, and sees and sets only silences of
those; operators and admins reach everything. Wrong bearers back off per address (429
with Retry-After, alerts/logins.py); a valid API key is never refused.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from wirewatch.alerts.accounts import User, UserStore
from wirewatch.alerts.errors import AlertsError
from wirewatch.alerts.logins import LoginLimits, bearer_user
from wirewatch.alerts.store import SubscriptionStore
from wirewatch.alerts.subscriptions import (
    NEW_PER,
    Subscription,
    check_channels,
    check_terms,
    from_mapping,
)
from wirewatch.alerts.vocabulary import Vocabulary

MAX_BODY = 64 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CALLER = web.RequestKey("caller", User)  # whom the bearer names


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY,
                                            actual_size=request.content_length)
    try:
        document = json.loads(await request.content.read(MAX_BODY + 1) or b"null")
    except ValueError as exc:
        raise _Invalid(f"body is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise _Invalid("body must be a JSON object")
    return document


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


class _Invalid(Exception):
    """A request the API refuses with 400 and this message."""


def subscriptions_api(store: SubscriptionStore, token: str, known_channels: frozenset[str],
                      vocabulary: Callable[[], Vocabulary], *, users: UserStore | None = None,
                      limits: LoginLimits | None = None) -> web.Application:
    """The API as an aiohttp application; every route needs `Authorization: Bearer TOKEN`
    (the API token, or an API key of one of `users`). `vocabulary` gives the topic and
    entity ids in force (they follow the rule files). `limits` are shared in Redis when
    given, else this process's own."""
    limits = limits or LoginLimits()

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
        caller, wait = await bearer_user(offered.strip() if scheme == "Bearer" else "",
                                         token=token, users=users, limits=limits,
                                         address=request.remote or "")
        if wait > 0:
            seconds = str(max(1, int(wait + 0.999)))
            return _error(429, f"too many wrong bearer tokens from this address: wait "
                               f"{seconds} s", {"Retry-After": seconds})
        if caller is None:
            return _error(401, "missing or wrong bearer token",
                          {"WWW-Authenticate": 'Bearer realm="wirewatch"'})
        request[CALLER] = caller
        try:
            return await handler(request)
        except (_Invalid, AlertsError) as exc:
            return _error(400, str(exc))

    async def visible(request: web.Request) -> Subscription | None:
        """The subscription the path names if the caller may see it (else as if none)."""
        found = await store.get(request.match_info["id"])
        return found if found is not None and request[CALLER].owns(found.owner) else None

    async def own_ids(caller: User) -> set[str]:
        return {s.id for s in await store.list() if caller.owns(s.owner)}

    async def checked(document: dict[str, Any], caller: User,
                      subscription_id: str | None = None) -> Any:
        if subscription_id is not None:
            document = {**document, "id": subscription_id}
        if not caller.sees_all:
            if document.get("owner", caller.name) != caller.name:
                raise _Invalid(f"'owner': a subscriber's subscriptions are their own: leave "
                               f"it out or write {caller.name!r}")
            document = {**document, "owner": caller.name}
        if "channels" not in document:  # a program must say where alerts go, never guess
            raise _Invalid(f"request body: 'channels' is required, a list of channel ids; "
                           f"defined: {sorted(known_channels)}")
        subscription = from_mapping(document, "request body", default_per=NEW_PER)
        check_channels([subscription], known_channels)
        check_terms([subscription], vocabulary())
        return subscription

    async def list_all(request: web.Request) -> web.Response:
        return web.json_response([s.to_dict() for s in await store.list()
                                  if request[CALLER].owns(s.owner)])

    async def create(request: web.Request) -> web.Response:
        subscription = await checked(await _body(request), request[CALLER])
        if await store.get(subscription.id) is not None:
            return _error(409, f"subscription {subscription.id!r} exists; PUT replaces it")
        await store.save(subscription)
        return web.json_response(subscription.to_dict(), status=201)

    async def get_one(request: web.Request) -> web.Response:
        found = await visible(request)
        if found is None:
            return _error(404, f"no subscription {request.match_info['id']!r}")
        return web.json_response(found.to_dict())

    async def put_one(request: web.Request) -> web.Response:
        caller = request[CALLER]
        if await store.get(request.match_info["id"]) is not None \
                and await visible(request) is None:
            return _error(404, f"no subscription {request.match_info['id']!r} of yours: "
                               "pick another id")
        subscription = await checked(await _body(request), caller, request.match_info["id"])
        created = await store.save(subscription)
        return web.json_response(subscription.to_dict(), status=201 if created else 200)

    async def delete_one(request: web.Request) -> web.Response:
        if await visible(request) is None or not await store.remove(request.match_info["id"]):
            return _error(404, f"no subscription {request.match_info['id']!r}")
        return web.Response(status=204)

    async def list_silences(request: web.Request) -> web.Response:
        caller = request[CALLER]
        ids = await own_ids(caller)
        return web.json_response([
            {"kind": s.kind, "value": s.value, "until": _iso(s.until),
             "created_by": s.created_by, "comment": s.comment,
             "created": _iso(s.created) if s.created is not None else None}
            for s in await store.silence_list()
            if caller.sees_all or (s.kind == "subscription" and s.value in ids)])

    async def add_silence(request: web.Request) -> web.Response:
        body = await _body(request)
        kind, value = body.get("kind"), body.get("value")
        if not isinstance(kind, str) or not isinstance(value, str) or not value:
            raise _Invalid("a silence needs 'kind' and 'value' strings")
        comment, created_by = body.get("comment", ""), body.get("created_by", "")
        if not isinstance(comment, str) or not isinstance(created_by, str):
            raise _Invalid("'comment' and 'created_by' are strings when given")
        caller = request[CALLER]
        if not caller.sees_all:
            # An entity, story or source silence would mute it for everybody.
            if kind != "subscription" or value not in await own_ids(caller):
                return _error(404, f"no subscription {value!r} of yours to silence "
                                   "(a subscriber silences only their own subscriptions)")
            created_by = caller.name
        if isinstance(body.get("until"), str):
            try:
                until = datetime.fromisoformat(body["until"])
            except ValueError as exc:
                raise _Invalid(f"until: {exc}") from exc
            until = until if until.tzinfo else until.replace(tzinfo=UTC)
        elif isinstance(body.get("seconds"), int | float) and body["seconds"] > 0:
            until = datetime.now(UTC) + timedelta(seconds=float(body["seconds"]))
        else:
            raise _Invalid("say until when: 'until' (ISO time) or 'seconds' (> 0)")
        await store.mute(kind, value, until, created_by=created_by, comment=comment)
        return web.json_response({"kind": kind, "value": value, "until": until.isoformat(),
                                  "created_by": created_by, "comment": comment}, status=201)

    async def delete_silence(request: web.Request) -> web.Response:
        kind, value, caller = (request.match_info["kind"], request.match_info["value"],
                               request[CALLER])
        if not caller.sees_all and (kind != "subscription"
                                    or value not in await own_ids(caller)):
            return _error(404, "no such silence")
        if not await store.unmute(kind, value):
            return _error(404, "no such silence")
        return web.Response(status=204)

    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY)
    app.router.add_get("/api/v1/subscriptions", list_all)
    app.router.add_post("/api/v1/subscriptions", create)
    app.router.add_get("/api/v1/subscriptions/{id}", get_one)
    app.router.add_put("/api/v1/subscriptions/{id}", put_one)
    app.router.add_delete("/api/v1/subscriptions/{id}", delete_one)
    app.router.add_get("/api/v1/silences", list_silences)
    app.router.add_post("/api/v1/silences", add_silence)
    app.router.add_delete("/api/v1/silences/{kind}/{value}", delete_silence)
    return app
