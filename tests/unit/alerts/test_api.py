"""The subscriptions HTTP API over real HTTP on loopback, with a real Redis behind it: the
API token, users' API keys with their rights, and the back-off of wrong bearers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer
from wirewatch.alerts.accounts import UserStore
from wirewatch.alerts.api import subscriptions_api
from wirewatch.alerts.logins import LoginLimits, LoginPolicy
from wirewatch.alerts.store import SubscriptionStore
from wirewatch.alerts.subscriptions import Subscription
from wirewatch.streams.tagging.reload import TaggerSource

TOKEN = "t0ken-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def api(redis_client: aioredis.Redis, unique: str) -> AsyncIterator[str]:
    store = SubscriptionStore(redis_client, prefix=f"{unique}:")
    server = TestServer(subscriptions_api(store, TOKEN, frozenset({"console", "team-slack"}),
                                          TaggerSource().vocabulary),  # the shipped rules
                        host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/api/v1"))
    finally:
        await server.close()


SUB = {"name": "OpenAI leadership", "query": "entity:openai AND topic:leadership-change",
       "channels": ["team-slack"], "schedule": {"mode": "hourly", "timezone": "Europe/Paris"}}


async def test_crud(api: str) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as http:
        async with http.post(f"{api}/subscriptions", json=SUB) as response:
            assert response.status == 201
            created = await response.json()
        assert created["id"] == "openai-leadership"
        assert created["schedule"] == {"mode": "hourly", "timezone": "Europe/Paris"}
        async with http.post(f"{api}/subscriptions", json=SUB) as response:
            assert response.status == 409
        async with http.put(f"{api}/subscriptions/openai-leadership",
                            json={**SUB, "owner": "ana"}) as response:
            assert response.status == 200 and (await response.json())["owner"] == "ana"
        async with http.get(f"{api}/subscriptions") as response:
            assert [s["id"] for s in await response.json()] == ["openai-leadership"]
        async with http.delete(f"{api}/subscriptions/openai-leadership") as response:
            assert response.status == 204
        async with http.get(f"{api}/subscriptions/openai-leadership") as response:
            assert response.status == 404


@pytest.mark.parametrize(("body", "message"), [
    ({**SUB, "query": "entity:"}, "unexpected 'entity:'"),
    ({**SUB, "channels": ["pager"]}, "unknown channel(s) ['pager']"),
    ({key: value for key, value in SUB.items() if key != "channels"},
     "'channels' is required, a list of channel ids; defined: ['console', 'team-slack']"),
    ({**SUB, "query": "topic:semiconductors"}, "unknown topic 'semiconductors' at column 1"),
    ({**SUB, "query": "entity:google"}, "did you mean entity:alphabet?"),
    ({**SUB, "schedule": {"mode": "weekly"}}, "mode must be one of"),
    ([1, 2], "body must be a JSON object"),
])
async def test_bad_requests_say_why(api: str, body: object, message: str) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as http:
        async with http.post(f"{api}/subscriptions", json=body) as response:
            assert response.status == 400
            assert message in (await response.json())["error"]


async def test_not_json(api: str) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as http:
        async with http.post(f"{api}/subscriptions", data=b"{nope") as response:
            assert response.status == 400 and "not JSON" in (await response.json())["error"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": TOKEN}])
async def test_token_required(api: str, headers: dict[str, str]) -> None:
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(f"{api}/subscriptions") as response:
            assert response.status == 401


async def test_silences(api: str) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as http:
        async with http.post(f"{api}/silences",
                             json={"kind": "entity", "value": "openai", "seconds": 3600}) as r:
            assert r.status == 201
        async with http.post(f"{api}/silences",
                             json={"kind": "planet", "value": "mars", "seconds": 5}) as r:
            assert r.status == 400 and "cannot mute" in (await r.json())["error"]
        async with http.get(f"{api}/silences") as r:
            assert [(s["kind"], s["value"]) for s in await r.json()] == [("entity", "openai")]
        async with http.delete(f"{api}/silences/entity/openai") as r:
            assert r.status == 204
        async with http.delete(f"{api}/silences/entity/openai") as r:
            assert r.status == 404


async def test_silences_keep_who_set_them_and_why(api: str) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as http:
        async with http.post(f"{api}/silences", json={
                "kind": "story", "value": "st-1", "seconds": 600, "comment": "a bad merge",
                "created_by": "pager-bot"}) as r:
            created = await r.json()
            assert r.status == 201
            assert (created["comment"], created["created_by"]) == ("a bad merge", "pager-bot")
        async with http.post(f"{api}/silences", json={"kind": "entity", "value": "openai",
                                                      "seconds": 60}) as r:
            assert r.status == 201  # both are optional
        async with http.post(f"{api}/silences", json={"kind": "entity", "value": "nvidia",
                                                      "seconds": 60, "comment": 7}) as r:
            assert r.status == 400 and "strings" in (await r.json())["error"]
        async with http.post(f"{api}/silences", json={"kind": "entity", "value": "nvidia",
                                                      "seconds": 60, "comment": "x" * 501}) as r:
            assert r.status == 400 and "at most 500" in (await r.json())["error"]
        async with http.get(f"{api}/silences") as r:
            listed = {s["value"]: s for s in await r.json()}
    assert set(listed) == {"st-1", "openai"}
    assert (listed["st-1"]["comment"], listed["st-1"]["created_by"]) == ("a bad merge",
                                                                         "pager-bot")
    assert listed["st-1"]["created"] is not None
    assert (listed["openai"]["comment"], listed["openai"]["created_by"]) == ("", "")


@dataclass
class Keyed:
    url: str
    keys: dict[str, str]  # user -> API key
    users: UserStore
    store: SubscriptionStore


@pytest.fixture
async def keyed(redis_client: aioredis.Redis, unique: str) -> AsyncIterator[Keyed]:
    """The API with accounts: ana and bo (subscribers) and op (an operator) with API keys,
    and one subscription each for ana and bo; the back-off starts after 10 wrong bearers."""
    store, users = (SubscriptionStore(redis_client, prefix=f"{unique}:"),
                    UserStore(redis_client, prefix=f"{unique}:"))
    keys = {}
    for name, role in (("ana", "subscriber"), ("bo", "subscriber"), ("op", "operator")):
        await users.add(name, role)
        keys[name] = await users.create_key(name)
    for owner in ("ana", "bo"):
        await store.save(Subscription.create(name=f"{owner} wires", owner=owner,
                                             query="topic:earnings", channels=("console",)))
    server = TestServer(subscriptions_api(
        store, TOKEN, frozenset({"console", "team-slack"}), TaggerSource().vocabulary, users=users,
        limits=LoginLimits(redis_client, prefix=f"{unique}:",
                           policy=LoginPolicy(free=10, base=120))), host="127.0.0.1")
    await server.start_server()
    try:
        yield Keyed(str(server.make_url("/api/v1")), keys, users, store)
    finally:
        await server.close()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_subscriber_key_reaches_only_its_own(keyed: Keyed) -> None:
    api = keyed.url
    async with aiohttp.ClientSession(headers=bearer(keyed.keys["ana"])) as http:
        async with http.get(f"{api}/subscriptions") as r:
            assert [s["id"] for s in await r.json()] == ["ana-wires"]
        for method in ("GET", "DELETE"):
            async with http.request(method, f"{api}/subscriptions/bo-wires") as r:
                assert r.status == 404
        async with http.put(f"{api}/subscriptions/bo-wires", json=SUB) as r:
            assert r.status == 404
        async with http.post(f"{api}/subscriptions", json={**SUB, "owner": "bo"}) as r:
            assert r.status == 400 and "their own" in (await r.json())["error"]
        async with http.post(f"{api}/subscriptions", json=SUB) as r:
            assert r.status == 201 and (await r.json())["owner"] == "ana"
        # Silences: only of their own subscriptions, and set in their name.
        async with http.post(f"{api}/silences", json={"kind": "entity", "value": "openai",
                                                      "seconds": 60}) as r:
            assert r.status == 404
        async with http.post(f"{api}/silences", json={"kind": "subscription",
                                                      "value": "bo-wires", "seconds": 60}) as r:
            assert r.status == 404
        async with http.post(f"{api}/silences", json={
                "kind": "subscription", "value": "ana-wires", "seconds": 60,
                "created_by": "somebody else"}) as r:
            assert r.status == 201 and (await r.json())["created_by"] == "ana"
    await keyed.store.mute("subscription", "bo-wires", datetime.now(UTC) + timedelta(hours=1))
    async with aiohttp.ClientSession(headers=bearer(keyed.keys["ana"])) as http:
        async with http.get(f"{api}/silences") as r:
            assert [s["value"] for s in await r.json()] == ["ana-wires"]
        async with http.delete(f"{api}/silences/subscription/bo-wires") as r:
            assert r.status == 404
    bo = await keyed.store.get("bo-wires")
    assert bo is not None and bo.owner == "bo" and bo.query == "topic:earnings"
    assert "subscription:bo-wires" in await keyed.store.silences()
    async with aiohttp.ClientSession(headers=bearer(keyed.keys["op"])) as http:
        async with http.get(f"{api}/subscriptions") as r:
            assert {s["id"] for s in await r.json()} == {"ana-wires", "bo-wires",
                                                         "openai-leadership"}


async def test_wrong_bearers_back_off_but_valid_keys_go_on(keyed: Keyed) -> None:
    api = keyed.url
    async with aiohttp.ClientSession() as http:
        for n in range(12):
            async with http.get(f"{api}/subscriptions", headers=bearer(f"wrong-{n}")) as r:
                assert r.status == (401 if n < 10 else 429), n
                if n >= 10:
                    assert r.headers["Retry-After"] == "120"
        async with http.get(f"{api}/subscriptions", headers=AUTH) as r:
            assert r.status == 429  # the token is guessable: it waits like a guess
        async with http.get(f"{api}/subscriptions", headers=bearer(keyed.keys["ana"])) as r:
            assert r.status == 200  # 256 random bits are not: never refused
        [key] = await keyed.users.keys_of("ana")
        assert await keyed.users.revoke_key("ana", key.key_id)
        async with http.get(f"{api}/subscriptions", headers=bearer(keyed.keys["ana"])) as r:
            assert r.status == 429  # revoked: a wrong bearer like any other
        await keyed.users.remove("bo")
        async with http.get(f"{api}/subscriptions", headers=bearer(keyed.keys["bo"])) as r:
            assert r.status == 429
