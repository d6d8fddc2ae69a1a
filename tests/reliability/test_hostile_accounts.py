"""Hostile accounts: whoever acts, no subscriber reaches another owner's subscriptions, their
history or their silences, through the pages or the JSON API; operators and admins see
everything; login limits never refuse a valid session or a pair that never failed.

Hypothesis draws accounts (names, roles), subscriptions owned by them or by free-text
legacy owners (nobody's: operators and admins only, README "Accounts"), silences of every
kind, and a sequence of requests (route x method x target x acting user). Each request goes
over HTTP on loopback to the real operations app or the real subscriptions API, with a real
Redis behind both (the set-up of tests/unit/streams/test_accounts.py and
tests/unit/alerts/test_api.py): pages with the user's signed session cookie and the CSRF
token of that session, the API with the user's API key.

Every subscription name, delivery title and silence comment is a unique token. After each
request of a subscriber: no token of anyone else's data is in the answer; a route to another
owner's subscription answered 404 (a silence form 400, operator actions 403); and Redis,
compared with its state just before, holds every subscription, silence and note that is not
theirs byte for byte, accounts, keys and feeds untouched, and anything new is theirs.

Two findings of these properties, fixed since, keep a test each at the end: a deleted id
used again by another subscriber must not hand them the earlier owner's delivery history,
and the dashboard must not list other subscribers' deliveries.

The command line is not covered yet: `wirewatch subscriptions` with WIREWATCH_API_KEY
(wirewatch/cli/api_client.py) was being added while this was written.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer
from argon2 import PasswordHasher
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from wirewatch.alerts import accounts
from wirewatch.alerts.accounts import ROLES, Role, UserStore
from wirewatch.alerts.api import subscriptions_api
from wirewatch.alerts.logins import LoginLimits, LoginPolicy
from wirewatch.alerts.store import SubscriptionStore
from wirewatch.alerts.subscriptions import Subscription
from wirewatch.alerts.vocabulary import Vocabulary
from wirewatch.connectors.feeds_file import spec_from_mapping
from wirewatch.connectors.registry import FeedRegistry
from wirewatch.connectors.state import FeedStateStore
from wirewatch.streams.events.log import EventLog
from wirewatch.streams.ops.activity import Activity
from wirewatch.streams.ops.auth import SESSION_COOKIE, WebAuth
from wirewatch.streams.ops.feed_pages import FeedPagesConfig
from wirewatch.streams.ops.monitor import Monitor
from wirewatch.streams.ops.subscription_pages import SubscriptionPagesConfig
from wirewatch.streams.ops.web import WebConfig, operations_app

from tests.reliability.results import record
from tests.support.alerts import make_alert

pytestmark = pytest.mark.redis
STEM = Path(__file__).stem
TOKEN = "hostile-accounts-token"
CSRF = re.compile(r'name="csrf" value="([0-9a-f]*)"')
VOCABULARY = Vocabulary.of(["earnings"], {"microsoft": ["Microsoft"]})
# Free-text owners from before accounts: no user name can be one (NAME is lower case, no
# spaces), so they are nobody's.
LEGACY = ("Ana Lima", "", "News Desk", "OPS team")
# Silences of other kinds, set by an operator: a subscriber may neither see nor set them.
OTHER_SILENCES = (("entity", "microsoft"), ("story", "st-1"), ("source", "Example"))
FORM = {"query": "topic:earnings", "channels": "console", "mode": "immediate", "at": "",
        "timezone": "UTC", "quiet_start": "", "quiet_end": "", "rate_cap_per_hour": "",
        "min_salience": "0", "group_wait_seconds": "0", "group_interval_seconds": "300",
        "update_after_outlets": "5"}
RUNS = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
MEASURED: dict[str, dict[str, Any]] = {}  # test -> what it exercised, for its result row


@pytest.fixture(scope="module", autouse=True)
def result_rows() -> Iterator[None]:
    """One result row per property, from what its examples exercised."""
    yield
    for fault, happened in (
            ("hostile-accounts-routes", "no subscriber reached another owner's data through "
             "the pages or the API; operators and admins saw everything"),
            ("hostile-accounts-logins", "no valid session and no pair that never failed was "
             "refused; valid API keys always answered")):
        counts = MEASURED.get(fault.rpartition("-")[2])
        if counts:
            shown = ", ".join(f"{v} {k}" for k, v in counts.items())
            record(STEM, {"fault": fault, "what_happened": f"{happened} ({shown})",
                          "items_lost": 0, "duplicates": 0, "recovery_seconds": None,
                          **counts})


def token(what: str, n: int) -> str:
    """A string that appears in a page only if that piece of data is on it."""
    return f"TOK{what}{n}x"


# -- what hypothesis draws -----------------------------------------------------------

# Subscription routes, each answered 404 to a subscriber when the id is another owner's.
TARGETED = ("page.edit", "page.history", "page.test_form", "page.save", "page.mute",
            "page.unmute", "page.delete", "page.test", "page.preview",
            "api.get", "api.put", "api.delete")
SILENCING = ("page.silence", "page.expire", "api.silence", "api.unsilence")
LISTS = ("page.list", "page.silences", "page.new", "page.new_preview", "api.list",
         "api.silences")
CREATES = ("page.create", "api.create")
OPERATORS = ("op.feed_add", "op.feed_disable", "op.dlq_resend", "op.dlq_many", "op.dlq_json")
ROUTES = TARGETED + SILENCING + LISTS + CREATES + OPERATORS
REFUSED_FOREIGN = {**dict.fromkeys(TARGETED, 404), "page.silence": 400, "page.expire": 404,
                   "api.silence": 404, "api.unsilence": 404}
OWNER_FIELDS = ("omit", "self", "other-user", "legacy")


@dataclass(frozen=True)
class Step:
    actor: int  # index into the users
    route: str
    target: int  # index into the first subscriptions' ids
    fresh: bool  # creates and PUTs: a new id rather than the target's
    owner: str  # what the `owner` field says: one of OWNER_FIELDS
    kind: str  # silence routes: the kind ("subscription" targets the target's id)


@dataclass(frozen=True)
class Plan:
    users: tuple[tuple[str, Role], ...]
    subscriptions: tuple[tuple[str, bool], ...]  # owner, muted
    steps: tuple[Step, ...]


names = st.from_regex(r"[a-z0-9][a-z0-9._@+-]{0,7}", fullmatch=True)


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    drawn = draw(st.lists(names, min_size=2, max_size=4, unique=True))
    # The first is a subscriber, so every plan has one to attack with.
    roles: list[Role] = ["subscriber"] + [draw(st.sampled_from(ROLES)) for _ in drawn[1:]]
    owners = st.sampled_from(drawn) | st.sampled_from(LEGACY)
    subscriptions = draw(st.lists(st.tuples(owners, st.booleans()), min_size=1, max_size=6))
    # Subscribers act more often than the others: they are the ones attacking.
    actors = st.integers(0, len(drawn) - 1) | st.just(0)
    steps = draw(st.lists(st.builds(
        Step, actor=actors, route=st.sampled_from(ROUTES),
        target=st.integers(0, len(subscriptions) - 1), fresh=st.booleans(),
        owner=st.sampled_from(OWNER_FIELDS),
        kind=st.sampled_from(("subscription", "subscription", "entity", "story", "source"))),
        min_size=1, max_size=14))
    return Plan(tuple(zip(drawn, roles, strict=True)), tuple(subscriptions), tuple(steps))


# -- the servers -----------------------------------------------------------------------


@dataclass
class World:
    prefix: str
    web: str
    api: str
    store: SubscriptionStore
    users: UserStore
    feed_id: str
    cookies: dict[str, str]  # user -> session cookie
    keys: dict[str, str]  # user -> API key
    roles: dict[str, Role]
    ids: list[str]  # the first subscriptions' ids, in plan order
    delivered: dict[str, tuple[str, str]] = field(default_factory=dict)  # title -> owner, id
    csrf: dict[str, str] = field(default_factory=dict)


async def _test_send(subscription: Subscription, title: str) -> dict[str, str]:
    return {}  # no channel is reached: what the page does around it is under test


@asynccontextmanager
async def servers(client: aioredis.Redis, prefix: str,
                  policy: LoginPolicy | None = None) -> AsyncIterator[tuple[str, str]]:
    """The operations app and the API on loopback over one Redis prefix: (web, api) URLs."""
    store, users = SubscriptionStore(client, prefix=prefix), UserStore(client, prefix=prefix)
    limits = LoginLimits(client, prefix=prefix, policy=policy)
    monitor = Monitor(bootstrap="127.0.0.1:1", group="g", consumed=[], sized=[],
                      dlq_topic="dlq", redis_client=client, redis_prefix=prefix, feeds=list)
    registry = FeedRegistry(client, prefix)
    web = TestServer(operations_app(WebConfig(
        monitor=monitor, activity=Activity(client, prefix=prefix), bootstrap="127.0.0.1:1",
        dlq_topic="dlq", max_lag=10, auth=WebAuth(TOKEN), users=users, limits=limits,
        feeds=FeedPagesConfig(registry, FeedStateStore(client, prefix), list),
        subscriptions=SubscriptionPagesConfig(
            store=store, channel_ids=frozenset({"console"}), test_send=_test_send,
            tag=lambda title, body: ([], {}), vocabulary=lambda: VOCABULARY,
            activity=Activity(client, prefix=prefix),
            events=EventLog(client, prefix=prefix)))), host="127.0.0.1")
    api = TestServer(subscriptions_api(store, TOKEN, frozenset({"console"}),
                                       lambda: VOCABULARY, users=users, limits=limits),
                     host="127.0.0.1")
    await web.start_server()
    await api.start_server()
    try:
        yield str(web.make_url("")).rstrip("/"), str(api.make_url("")).rstrip("/")
    finally:
        await web.close()
        await api.close()


@asynccontextmanager
async def world(client: aioredis.Redis, plan: Plan) -> AsyncIterator[World]:
    """The plan's accounts and data in Redis under a fresh prefix, and the servers on it."""
    prefix = f"hostile-{uuid.uuid4().hex[:10]}:"
    store, users = SubscriptionStore(client, prefix=prefix), UserStore(client, prefix=prefix)
    registry = FeedRegistry(client, prefix)
    activity = Activity(client, prefix=prefix)
    until = datetime.now(UTC) + timedelta(hours=2)
    cookies, keys = {}, {}
    signer = WebAuth(TOKEN, session_secret=await users.session_secret())
    for name, role in plan.users:
        await users.add(name, role)  # no password: sessions are signed below, as on login
        cookies[name] = signer.new_session(name)
        keys[name] = await users.create_key(name)
    spec = spec_from_mapping({"url": "https://feeds.example/rss", "name": "Example"}, "feed")
    await registry.add([spec])
    ids, delivered = [], {}
    for n, (owner, muted) in enumerate(plan.subscriptions):
        subscription = Subscription.create(name=token("name", n), owner=owner,
                                           query="topic:earnings", id=f"sub-{n}")
        await store.save(subscription)
        ids.append(subscription.id)
        title = token("alert", n)
        await activity.record_delivery(make_alert(subscription_id=subscription.id,
                                                  title=title, owner=owner), "console", "sent")
        delivered[title] = (owner, subscription.id)
        if muted:
            await store.mute("subscription", subscription.id, until, created_by=owner or "op",
                             comment=token("mute", n))
    for n, (kind, value) in enumerate(OTHER_SILENCES):
        await store.mute(kind, value, until, created_by="op", comment=token(kind, n))
    try:
        async with servers(client, prefix) as (web, api):
            yield World(prefix, web, api, store, users, spec.feed_id, cookies, keys,
                        dict(plan.users), ids, delivered)
    finally:
        found = [key async for key in client.scan_iter(f"{prefix}*")]
        if found:
            await client.delete(*found)


async def dump(client: aioredis.Redis, prefix: str) -> dict[str, Any]:
    """Every key under the prefix with its whole value, as Redis holds it (bytes)."""
    state: dict[str, Any] = {}
    async for raw in client.scan_iter(f"{prefix}*"):
        key = raw.decode()
        kind = (await client.type(key)).decode()
        if kind == "hash":
            state[key] = {k.decode(): v for k, v in (await client.hgetall(key)).items()}
        elif kind == "zset":
            state[key] = {m.decode(): s for m, s in await client.zrange(key, 0, -1,
                                                                        withscores=True)}
        elif kind == "stream":
            state[key] = await client.xrange(key)
        elif kind == "set":
            state[key] = await client.smembers(key)
        elif kind == "list":
            state[key] = await client.lrange(key, 0, -1)
        else:
            state[key] = await client.get(key)
    return state


def owner_of(raw: bytes) -> str:
    return str(json.loads(raw).get("owner", ""))


# -- one request -----------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: str


async def send(w: World, http: aiohttp.ClientSession, actor: str, step: Step, n: int,
               target: str, silenced: tuple[str, str]) -> Answer | None:
    """Send one step as `actor`; None for a step this actor does not take (see below)."""
    route, owner = step.route, owner_field(w, actor, step.owner)
    sees_all = w.roles[actor] != "subscriber"
    if sees_all and route.startswith("op.dlq"):
        return None  # an operator's resend reads the DLQ topic: no broker here
    api = {"Authorization": f"Bearer {w.keys[actor]}"}
    page = {"Cookie": f"{SESSION_COOKIE}={w.cookies[actor]}"}
    if route.startswith(("page.", "op.")) and actor not in w.csrf:
        w.csrf[actor] = (await fetch(http, "GET", f"{w.web}/subscriptions", page)).csrf()
    csrf = {"csrf": w.csrf.get(actor, "")}
    sub = f"{w.web}/subscriptions/{target}"
    form = {**FORM, "name": token("saved", n), **owner, **csrf}
    body = {"name": token("put", n), "query": "topic:earnings", "channels": ["console"],
            **owner}
    kind, value = silenced
    requests: dict[str, tuple[str, str, dict[str, Any]]] = {
        "page.edit": ("GET", sub, {}), "page.history": ("GET", f"{sub}/history", {}),
        "page.test_form": ("GET", f"{sub}/test", {}),
        "page.save": ("POST", sub, {"data": form}),
        "page.mute": ("POST", f"{sub}/mute", {"data": {
            **csrf, "seconds": "3600", "comment": token("muted", n)}}),
        "page.unmute": ("POST", f"{sub}/unmute", {"data": csrf}),
        "page.delete": ("POST", f"{sub}/delete", {"data": csrf}),
        "page.test": ("POST", f"{sub}/test", {"data": {**csrf, "title": "x",
                                                        "action": "send"}}),
        "page.preview": ("POST", f"{sub}/preview", {"data": form}),
        "api.get": ("GET", f"{w.api}/api/v1/subscriptions/{target}", {}),
        "api.put": ("PUT", f"{w.api}/api/v1/subscriptions/{target}", {"json": body}),
        "api.delete": ("DELETE", f"{w.api}/api/v1/subscriptions/{target}", {}),
        "page.silence": ("POST", f"{w.web}/silences", {"data": {
            **csrf, "kind": kind, "value": value, "duration": "2h",
            "comment": token("silenced", n)}}),
        "page.expire": ("POST", f"{w.web}/silences/expire", {"data": {
            **csrf, "kind": kind, "value": value}}),
        "api.silence": ("POST", f"{w.api}/api/v1/silences", {"json": {
            "kind": kind, "value": value, "seconds": 3600, "comment": token("silenced", n),
            "created_by": "somebody else"}}),
        "api.unsilence": ("DELETE", f"{w.api}/api/v1/silences/{kind}/{value}", {}),
        "page.list": ("GET", f"{w.web}/subscriptions", {}),
        "page.silences": ("GET", f"{w.web}/silences", {}),
        "page.new": ("GET", f"{w.web}/subscriptions/new", {}),
        "page.new_preview": ("POST", f"{w.web}/subscriptions/new/preview", {"data": form}),
        "api.list": ("GET", f"{w.api}/api/v1/subscriptions", {}),
        "api.silences": ("GET", f"{w.api}/api/v1/silences", {}),
        "page.create": ("POST", f"{w.web}/subscriptions/new", {"data": {
            **form, "name": token("made", n), "id": target}}),
        "api.create": ("POST", f"{w.api}/api/v1/subscriptions", {"json": {
            **body, "name": token("made", n), "id": target}}),
        "op.feed_add": ("POST", f"{w.web}/feeds", {"data": {
            **csrf, "url": f"https://feeds.example/{n}", "name": "New"}}),
        "op.feed_disable": ("POST", f"{w.web}/feeds/{w.feed_id}/disable", {"data": csrf}),
        "op.dlq_resend": ("POST", f"{w.web}/dlq/resend", {"data": {
            **csrf, "partition": "0", "offset": "1"}}),
        "op.dlq_many": ("POST", f"{w.web}/dlq/resend-many", {"data": {**csrf,
                                                                      "place": "0/1"}}),
        "op.dlq_json": ("POST", f"{w.web}/api/v1/dlq/resend", {"json": {"partition": 0,
                                                                        "offset": 1}}),
    }
    method, url, kwargs = requests[route]
    headers = api if url.startswith(w.api) or route == "op.dlq_json" else page
    answer = await fetch(http, method, url, headers, **kwargs)
    return Answer(answer.status, answer.body)


def owner_field(w: World, actor: str, choice: str) -> dict[str, str]:
    others = [name for name in w.roles if name != actor]
    return {"omit": {}, "self": {"owner": actor},
            "other-user": {"owner": others[0]} if others else {},
            "legacy": {"owner": LEGACY[0]}}[choice]


@dataclass(frozen=True)
class Fetched:
    status: int
    body: str

    def csrf(self) -> str:
        assert self.status == 200, (self.status, self.body[:300])
        return CSRF.findall(self.body)[-1]


async def fetch(http: aiohttp.ClientSession, method: str, url: str,
                headers: Mapping[str, str], **kwargs: Any) -> Fetched:
    async with http.request(method, url, headers=headers, allow_redirects=False,
                            **kwargs) as response:
        return Fetched(response.status, await response.text())


# -- what must hold ----------------------------------------------------------------------


def foreign_tokens(w: World, state: dict[str, Any], actor: str) -> tuple[set[str], set[str]]:
    """(tokens of data that is not the actor's, the actor's own subscription ids)."""
    stored = state.get(f"{w.prefix}subscriptions", {})
    own = {sid for sid, raw in stored.items() if owner_of(raw) == actor}
    tokens = {json.loads(raw)["name"] for sid, raw in stored.items() if sid not in own}
    # Deliveries of another owner's subscription, also under an id the actor now uses: the
    # history of a deleted id is not handed to whoever creates it again.
    tokens |= {title for title, (owner, sid) in w.delivered.items() if owner != actor}
    for member, raw in state.get(f"{w.prefix}silences:notes", {}).items():
        kind, _, value = member.partition(":")
        if not (kind == "subscription" and value in own):
            tokens.add(str(json.loads(raw).get("comment", "")))
    return {t for t in tokens if t.startswith("TOK")}, own


def assert_only_own_changed(w: World, before: dict[str, Any], after: dict[str, Any],
                            actor: str, own: set[str], what: str) -> None:
    """Everything in Redis that is not the actor's is as it was; new things are theirs."""
    subscriptions = f"{w.prefix}subscriptions"
    silences = (f"{w.prefix}silences", f"{w.prefix}silences:notes")
    theirs = {f"subscription:{sid}" for sid in own}
    for key in before.keys() | after.keys():
        old, new = before.get(key, {}), after.get(key, {})
        if key == subscriptions:
            for sid in old.keys() | new.keys():
                if sid in own or sid not in old:  # theirs, or new: theirs (if still there)
                    assert sid not in new or owner_of(new[sid]) == actor, (what, sid, new[sid])
                else:
                    assert new.get(sid) == old[sid], (what, sid, old[sid], new.get(sid))
        elif key in silences:
            for member in (old.keys() | new.keys()) - theirs:
                assert old.get(member) == new.get(member), (what, key, member)
        elif key == f"{subscriptions}:created":  # when each id was made: theirs may change
            for sid in (old.keys() | new.keys()) - own - (new.keys() - old.keys()):
                assert old.get(sid) == new.get(sid), (what, key, sid)
        else:  # accounts, keys, feeds, activity, the session secret: never
            assert old == new, (what, key)


async def check_step(w: World, client: aioredis.Redis, http: aiohttp.ClientSession,
                     step: Step, n: int, seen: dict[str, int]) -> None:
    actor = list(w.roles)[step.actor % len(w.roles)]
    fresh = step.route in ("page.create", "api.create", "api.put", "page.save") and step.fresh
    target = f"made-{n}" if fresh else w.ids[step.target % len(w.ids)]
    other_kind = step.route in SILENCING and step.kind != "subscription"
    silenced = ((step.kind, dict(OTHER_SILENCES)[step.kind]) if other_kind
                else ("subscription", target))
    before = await dump(client, w.prefix)
    stored = before.get(f"{w.prefix}subscriptions", {})
    answer = await send(w, http, actor, step, n, target, silenced)
    if answer is None:
        return
    aimed = silenced if step.route in SILENCING else target
    what = f"{actor} ({w.roles[actor]}) {step.route} {aimed}"
    assert answer.status < 500, (what, answer.status, answer.body[:500])
    after = await dump(client, w.prefix)
    if w.roles[actor] != "subscriber":
        await check_sees_all(w, step, target, answer, before, what)
        seen["operator steps"] = seen.get("operator steps", 0) + 1
        return
    seen["subscriber steps"] = seen.get("subscriber steps", 0) + 1
    tokens, own = foreign_tokens(w, before, actor)
    leaked = {t for t in tokens if t in answer.body}
    assert not leaked, (what, leaked, answer.body[:2000])
    foreign = target in stored and target not in own
    if step.route in OPERATORS:
        assert answer.status == 403, (what, answer.status, answer.body[:300])
        seen["refused operator actions"] = seen.get("refused operator actions", 0) + 1
    elif step.route in REFUSED_FOREIGN and (foreign or other_kind or (
            step.route in SILENCING and target not in own)):
        # Silences: only of their own subscriptions, whether the id is another's or none.
        assert answer.status == REFUSED_FOREIGN[step.route], (what, answer.status,
                                                               answer.body[:300])
        seen["refused foreign routes"] = seen.get("refused foreign routes", 0) + 1
    if step.route in CREATES + ("api.put",):
        named_other = step.owner in ("other-user", "legacy") and owner_field(
            w, actor, step.owner).get("owner", actor) != actor
        if step.route.startswith("api.") and named_other and not foreign:
            assert answer.status == 400 and "their own" in answer.body, (what, answer.status)
            seen["refused other owners"] = seen.get("refused other owners", 0) + 1
        if answer.status in (200, 201, 303):
            made = after[f"{w.prefix}subscriptions"][target]
            assert owner_of(made) == actor, (what, made)
            if named_other:
                seen["other owner ignored"] = seen.get("other owner ignored", 0) + 1
    assert_only_own_changed(w, before, after, actor, own, what)


async def check_sees_all(w: World, step: Step, target: str, answer: Answer,
                         before: dict[str, Any], what: str) -> None:
    """An operator's or admin's list and reads show every owner's data."""
    stored = before.get(f"{w.prefix}subscriptions", {})
    names = {json.loads(raw)["name"] for raw in stored.values()}
    comments = {str(json.loads(raw).get("comment", ""))
                for raw in before.get(f"{w.prefix}silences:notes", {}).values()}
    if step.route in ("page.list", "api.list"):
        assert answer.status == 200 and all(name in answer.body for name in names), what
    elif step.route in ("page.silences", "api.silences"):
        assert answer.status == 200 and all(c in answer.body for c in comments), what
    elif step.route in ("page.edit", "page.history", "api.get") and target in stored:
        assert answer.status == 200, (what, answer.status)
        assert json.loads(stored[target])["name"] in answer.body, what
        if step.route == "page.history" and target in w.ids:  # its delivery, whoever's
            assert token("alert", w.ids.index(target)) in answer.body, what


@RUNS
@example(plan=Plan(  # property 2 every run: an owner field naming someone else
    users=(("ana", "subscriber"), ("bo", "subscriber")), subscriptions=(("ana", False),),
    steps=(Step(0, "page.create", 0, True, "other-user", "subscription"),
           Step(0, "page.save", 0, False, "legacy", "subscription"),
           Step(0, "page.save", 0, True, "other-user", "subscription"),
           Step(0, "api.create", 0, True, "other-user", "subscription"),
           Step(0, "api.put", 0, False, "legacy", "subscription"))))
@given(plan=plans())
async def test_no_subscriber_reaches_another_owners_data(redis_client: aioredis.Redis,
                                                         plan: Plan) -> None:
    seen = MEASURED.setdefault("routes", {"examples": 0})
    seen["examples"] += 1
    # A new connection per request: no keep-alive reuse races with a server that closed one.
    async with world(redis_client, plan) as w, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True)) as http:
        for n, step in enumerate(plan.steps):
            await check_step(w, redis_client, http, step, n, seen)


async def test_a_reused_id_does_not_inherit_another_owners_history(
        redis_client: aioredis.Redis) -> None:
    plan = Plan(users=(("ana", "subscriber"), ("bo", "subscriber")),
                subscriptions=(("ana", False),), steps=())
    async with world(redis_client, plan) as w, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True)) as http:
        ana, bo = ({"Cookie": f"{SESSION_COOKIE}={w.cookies[name]}"} for name in ("ana", "bo"))
        csrf = (await fetch(http, "GET", f"{w.web}/subscriptions", ana)).csrf()
        deleted = await fetch(http, "POST", f"{w.web}/subscriptions/sub-0/delete", ana,
                              data={"csrf": csrf})
        assert deleted.status == 303
        csrf = (await fetch(http, "GET", f"{w.web}/subscriptions", bo)).csrf()
        made = await fetch(http, "POST", f"{w.web}/subscriptions/new", bo, data={
            **FORM, "name": "Mine", "id": "sub-0", "csrf": csrf})
        assert made.status == 303
        history = await fetch(http, "GET", f"{w.web}/subscriptions/sub-0/history", bo)
        assert history.status == 200
        assert token("alert", 0) not in history.body  # ana's delivery, before bo's time


async def test_the_dashboard_shows_a_subscriber_only_their_own_deliveries(
        redis_client: aioredis.Redis) -> None:
    plan = Plan(users=(("ana", "subscriber"), ("bo", "subscriber")),
                subscriptions=(("bo", False),), steps=())
    async with world(redis_client, plan) as w, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True)) as http:
        page = await fetch(http, "GET", f"{w.web}/",
                           {"Cookie": f"{SESSION_COOKIE}={w.cookies['ana']}"})
        assert page.status == 200
        assert token("alert", 0) not in page.body and "sub-0" not in page.body


# -- login limits ------------------------------------------------------------------------

ADDRESSES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")  # loopback: one client socket each
ACCOUNTS = ("ana", "bo", "ghost")  # ghost has no account: its logins always fail
PASSWORD = "right-password"
# Small numbers so that pairs and accounts back off within a short sequence; nothing
# expires during a run.
POLICY = LoginPolicy(free=2, base=600.0, longest=600.0, account_failures=4)


@dataclass(frozen=True)
class Attempt:
    address: int
    account: int
    how: str  # "right" or "wrong" password on the login form, or "key"/"bad-key" on the API


attempts = st.lists(st.builds(Attempt, st.integers(0, len(ADDRESSES) - 1),
                              st.integers(0, len(ACCOUNTS) - 1),
                              st.sampled_from(("right", "wrong", "wrong", "key", "bad-key"))),
                    min_size=1, max_size=16)


@pytest.fixture
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at its smallest cost: the limits, not the hash, are under test here, and
    the default parameters take ~0.2 s a verify on a shared core."""
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(accounts, "_HASHER", hasher)
    monkeypatch.setattr(accounts, "_DUMMY", hasher.hash("dummy"))


@RUNS
@given(sequence=attempts)
async def test_login_limits_never_refuse_a_valid_session_or_a_pair_that_never_failed(
        redis_client: aioredis.Redis, cheap_argon2: None, sequence: list[Attempt]) -> None:
    seen = MEASURED.setdefault("logins", {"examples": 0})
    seen["examples"] += 1
    prefix = f"hostile-{uuid.uuid4().hex[:10]}:"
    users = UserStore(redis_client, prefix=prefix)
    keys = {}
    for name in ACCOUNTS[:2]:
        await users.add(name, "subscriber", PASSWORD)
        keys[name] = await users.create_key(name)
    failed: set[tuple[str, str]] = set()  # pairs that have had a wrong secret counted
    sessions: dict[tuple[str, str], str] = {}  # (address, account) -> session cookie
    clients = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(
        local_addr=(address, 0), force_close=True)) for address in ADDRESSES]
    try:
        async with servers(redis_client, prefix, POLICY) as (web, api):
            for attempt in sequence:
                address, account = ADDRESSES[attempt.address], ACCOUNTS[attempt.account]
                http = clients[attempt.address]
                what = (address, account, attempt.how, sorted(failed))
                if attempt.how in ("right", "wrong"):
                    pair = (address, account)
                    right = attempt.how == "right" and account in keys
                    async with http.post(f"{web}/login", allow_redirects=False, data={
                            "user": account,
                            "password": PASSWORD if right else "wrong"}) as response:
                        status = response.status
                        cookie = response.cookies.get(SESSION_COOKIE)
                    if pair not in failed:
                        assert status == (303 if right else 401), what
                    assert status in ((303, 429) if right else (401, 429)), what
                    if status == 303:
                        assert cookie is not None, what
                        sessions[pair] = cookie.value
                        failed.discard(pair)  # a right password starts the pair afresh
                    elif status == 401:
                        failed.add(pair)
                    seen[f"login {status}"] = seen.get(f"login {status}", 0) + 1
                else:
                    pair = (address, "")  # every bearer counts under the token's account
                    bearer = keys.get(account, "wwk_wrong") if attempt.how == "key" \
                        else f"wrong-{account}"
                    async with http.get(f"{api}/api/v1/subscriptions", headers={
                            "Authorization": f"Bearer {bearer}"}) as response:
                        status = response.status
                    if bearer in keys.values():
                        assert status == 200, what  # a valid key is never refused
                    else:
                        assert status in ((401,) if pair not in failed else (401, 429)), what
                        failed |= {pair} if status == 401 else set()
                    seen[f"api {status}"] = seen.get(f"api {status}", 0) + 1
                # Every session logged in so far goes on, from wherever it logged in.
                for (held_at, held_by), cookie_value in sessions.items():
                    async with clients[ADDRESSES.index(held_at)].get(
                            f"{web}/subscriptions", allow_redirects=False, headers={
                                "Cookie": f"{SESSION_COOKIE}={cookie_value}"}) as response:
                        assert response.status == 200, (held_at, held_by, what)
    finally:
        for http in clients:
            await http.close()
        found = [key async for key in redis_client.scan_iter(f"{prefix}*")]
        if found:
            await redis_client.delete(*found)
