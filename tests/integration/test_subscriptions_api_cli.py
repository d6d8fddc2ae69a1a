"""`wirewatch subscriptions ...` run with a subscriber's API key: every command goes through
the API (a real one on loopback, a real Redis behind it), which keeps the subscriber to
their own subscriptions and silences."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer
from wirewatch.alerts.accounts import UserStore
from wirewatch.alerts.api import subscriptions_api
from wirewatch.alerts.store import SubscriptionStore
from wirewatch.alerts.subscriptions import Subscription
from wirewatch.streams.tagging.reload import TaggerSource

from tests.support.processes import wirewatch_env

pytestmark = pytest.mark.redis


@dataclass
class Api:
    url: str
    store: SubscriptionStore
    ana_key: str


@pytest.fixture
async def api(redis_client: aioredis.Redis, unique: str) -> AsyncIterator[Api]:
    store = SubscriptionStore(redis_client, prefix=f"{unique}:")
    users = UserStore(redis_client, prefix=f"{unique}:")
    await users.add("ana", "subscriber")
    key = await users.create_key("ana")
    await store.save(Subscription.create(name="Bob's", owner="bob", query="entity:openai",
                                         channels=("console",)))
    server = TestServer(subscriptions_api(store, "admin-token", frozenset({"console"}),
                                          TaggerSource().vocabulary, users=users),
                        host="127.0.0.1")
    await server.start_server()
    try:
        yield Api(str(server.make_url("")).rstrip("/"), store, key)
    finally:
        await server.close()


async def run(api: Api, *args: str) -> tuple[int, str, str]:
    """The CLI as a subprocess while this loop keeps serving the API."""
    env = wirewatch_env(WIREWATCH_API_KEY=api.ana_key, WIREWATCH_API_URL=api.url,
                        WIREWATCH_REDIS_URL="redis://127.0.0.1:1/0")  # never reached
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wirewatch", "subscriptions", *args, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_a_subscriber_manages_only_their_own_through_the_api(api: Api) -> None:
    code, out, err = await run(api, "add", "Chips", "--query", "entity:nvidia")
    assert code == 0 and out.strip() == "added subscription chips", err
    assert (await api.store.get("chips")).owner == "ana"  # the API set the owner
    code, out, _ = await run(api, "list", "-o", "json")
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["chips"]  # not bob's
    code, _, err = await run(api, "show", "bob-s")
    assert code == 1 and "no subscription 'bob-s'" in err
    code, _, err = await run(api, "add", "Bob's", "--query", "entity:openai")
    assert code == 1 and "pick another id" in err  # bob's id is not hers to replace
    assert (await api.store.get("bob-s")).owner == "bob"

    code, out, err = await run(api, "mute", "subscription", "chips", "--for", "1h",
                               "--comment", "quiet week")
    assert code == 0, err
    code, _, err = await run(api, "mute", "entity", "nvidia", "--for", "1h")
    assert code == 1 and "silences only their own subscriptions" in err
    code, out, _ = await run(api, "silences", "-o", "json")
    [silence] = [json.loads(line) for line in out.splitlines()]
    assert (silence["value"], silence["created_by"], silence["comment"]) == (
        "chips", "ana", "quiet week")
    assert (await run(api, "unmute", "subscription", "chips"))[0] == 0
    code, _, err = await run(api, "unmute", "subscription", "chips")
    assert code == 1 and "is not muted" in err

    code, _, err = await run(api, "export")
    assert code == 1 and "unset WIREWATCH_API_KEY" in err
    code, out, err = await run(api, "remove", "chips", "--yes")
    assert code == 0 and "removed subscription chips" in out, err
    assert await api.store.get("chips") is None


async def test_a_wrong_key_or_no_api_is_one_clear_line(api: Api) -> None:
    api.ana_key = "wwk_not-a-key"
    code, _, err = await run(api, "list")
    assert code == 1 and "the API refused (401)" in err and "Traceback" not in err
    api.url = "http://127.0.0.1:1"
    code, _, err = await run(api, "list")
    assert code == 1 and "cannot reach the subscriptions API" in err
