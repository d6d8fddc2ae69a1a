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
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from wirewatch.alerts.errors import AlertsError
from wirewatch.alerts.store import SubscriptionStore
from wirewatch.alerts.subscriptions import NEW_PER, check_channels, check_terms, from_mapping
from wirewatch.alerts.vocabulary import Vocabulary

MAX_BODY = 64 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


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
                      vocabulary: Callable[[], Vocabulary]) -> web.Application:
    """The API as an aiohttp application; every route needs `Authorization: Bearer TOKEN`.
    `vocabulary` gives the topic and entity ids in force (they follow the rule files)."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        offered = request.headers.get("Authorization", "")
        if not hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
            return _error(401, "missing or wrong bearer token")
        try:
            return await handler(request)
        except (_Invalid, AlertsError) as exc:
            return _error(400, str(exc))

    async def checked(document: dict[str, Any], subscription_id: str | None = None) -> Any:
        if subscription_id is not None:
            document = {**document, "id": subscription_id}
        if "channels" not in document:  # a program must say where alerts go, never guess
            raise _Invalid(f"request body: 'channels' is required, a list of channel ids; "
                           f"defined: {sorted(known_channels)}")
        subscription = from_mapping(document, "request body", default_per=NEW_PER)
        check_channels([subscription], known_channels)
        check_terms([subscription], vocabulary())
        return subscription

    async def list_all(request: web.Request) -> web.Response:
        return web.json_response([s.to_dict() for s in await store.list()])

    async def create(request: web.Request) -> web.Response:
        subscription = await checked(await _body(request))
        if await store.get(subscription.id) is not None:
            return _error(409, f"subscription {subscription.id!r} exists; PUT replaces it")
        await store.save(subscription)
        return web.json_response(subscription.to_dict(), status=201)

    async def get_one(request: web.Request) -> web.Response:
        found = await store.get(request.match_info["id"])
        if found is None:
            return _error(404, f"no subscription {request.match_info['id']!r}")
        return web.json_response(found.to_dict())

    async def put_one(request: web.Request) -> web.Response:
        subscription = await checked(await _body(request), request.match_info["id"])
        created = await store.save(subscription)
        return web.json_response(subscription.to_dict(), status=201 if created else 200)

    async def delete_one(request: web.Request) -> web.Response:
        if not await store.remove(request.match_info["id"]):
            return _error(404, f"no subscription {request.match_info['id']!r}")
        return web.Response(status=204)

    async def list_silences(request: web.Request) -> web.Response:
        return web.json_response([
            {"kind": s.kind, "value": s.value, "until": _iso(s.until),
             "created_by": s.created_by, "comment": s.comment,
             "created": _iso(s.created) if s.created is not None else None}
            for s in await store.silence_list()])

    async def add_silence(request: web.Request) -> web.Response:
        body = await _body(request)
        kind, value = body.get("kind"), body.get("value")
        if not isinstance(kind, str) or not isinstance(value, str) or not value:
            raise _Invalid("a silence needs 'kind' and 'value' strings")
        comment, created_by = body.get("comment", ""), body.get("created_by", "")
        if not isinstance(comment, str) or not isinstance(created_by, str):
            raise _Invalid("'comment' and 'created_by' are strings when given")
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
        if not await store.unmute(request.match_info["kind"], request.match_info["value"]):
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
