"""The subscription form and the silences page in headless Chromium, against the real pages
on loopback and a real Redis: pick terms into the query, see the digest time follow the
schedule, preview the last days' events, save, then add a silence with a comment and expire
it. Screenshots go beside WIREWATCH_SCREENSHOT when it is set (docs/), else to tmp_path."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from wirewatch.alerts.channels import parse_channels
from wirewatch.alerts.store import SubscriptionStore
from wirewatch.alerts.subscriptions import Subscription
from wirewatch.streams.events.log import EventLog
from wirewatch.streams.ops.activity import Activity
from wirewatch.streams.ops.auth import WebAuth
from wirewatch.streams.ops.monitor import Monitor
from wirewatch.streams.ops.subscription_pages import SubscriptionPagesConfig
from wirewatch.streams.ops.web import WebConfig, operations_app

from tests.integration.test_operations import _browser, _PageWait
from tests.unit.streams.test_subscription_pages import VOCABULARY, seed_event, tag, tagged

pytestmark = [pytest.mark.browser, pytest.mark.redis]
TOKEN = "browser-token"
T = TypeVar("T")


class Served:
    """The operations app on its own event loop in a thread, so Selenium can drive it from
    the test's thread."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self.redis_url, self.prefix = redis_url, prefix
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.base = ""

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=30)

    async def start(self) -> None:
        self.client = aioredis.Redis.from_url(self.redis_url)
        self.store = SubscriptionStore(self.client, prefix=self.prefix)
        self.events = EventLog(self.client, prefix=self.prefix)
        activity = Activity(self.client, prefix=self.prefix)
        channels = parse_channels({"channels": []}, "browser channels", env={})

        async def test_send(subscription: Subscription, title: str) -> dict[str, str]:
            return dict.fromkeys(subscription.channels, "sent")

        monitor = Monitor(bootstrap="127.0.0.1:1", group="g", consumed=[], sized=[],
                          dlq_topic="dlq", redis_client=self.client, redis_prefix=self.prefix,
                          feeds=list)
        app = operations_app(WebConfig(
            monitor=monitor, activity=activity, bootstrap="127.0.0.1:1", dlq_topic="dlq",
            max_lag=10, auth=WebAuth(TOKEN), subscriptions=SubscriptionPagesConfig(
                store=self.store, channel_ids=channels.ids, test_send=test_send, tag=tag,
                vocabulary=lambda: VOCABULARY, activity=activity, events=self.events)))
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.base = f"http://{host}:{port}"

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.client.aclose()

    def close(self) -> None:
        self.run(self.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def served(redis_server: str, unique: str) -> Iterator[Served]:
    server = Served(redis_server, f"{unique}:")
    server.run(server.start())
    now = time.time()
    server.run(seed_event(server.client, server.events, "ev-msft", [
        tagged("ev-msft", "ev-msft", "Microsoft beats estimates on cloud", "Wire",
               now - 5 * 3600, topics=["earnings"], entities=["microsoft"])], now=now))
    server.run(seed_event(server.client, server.events, "ev-cuts", [
        tagged("ev-cuts", "ev-cuts", "Carmaker cuts 2,000 jobs", "Wire", now - 3600,
               topics=["layoffs"], entities=[])], now=now))
    try:
        yield server
    finally:
        server.close()


def screenshot_path(name: str, tmp_path: Path) -> Path:
    given = os.environ.get("WIREWATCH_SCREENSHOT")
    return (Path(given).parent if given else tmp_path) / name


def test_subscription_form_and_silences_in_headless_chromium(served: Served,
                                                              tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = _browser()
    wait = _PageWait(driver, 20)
    base = served.base
    try:
        driver.get(f"{base}/login?next=/subscriptions/new")
        driver.find_element(By.NAME, "password").send_keys(TOKEN)
        driver.find_element(By.CSS_SELECTOR, "form button").click()
        wait.until(lambda d: d.title == "wirewatch: new subscription")

        # The picker: a label or an id completes to its term, the buttons join them.
        picker, query = driver.find_element(By.ID, "picker"), driver.find_element(By.ID, "query")
        assert picker.is_displayed()
        driver.find_element(By.ID, "name").send_keys("Microsoft earnings")
        picker.send_keys("Microsoft")
        driver.find_element(By.ID, "add-and").click()
        picker.send_keys("topic:earnings")
        driver.find_element(By.ID, "add-and").click()
        picker.send_keys("layoffs")
        driver.find_element(By.ID, "add-not").click()
        assert query.get_attribute("value") == ("entity:microsoft AND topic:earnings "
                                                "AND NOT topic:layoffs")
        assert picker.get_attribute("value") == ""

        # The digest time shows for daily schedules only; the rate cap for immediate ones.
        at, cap = driver.find_element(By.ID, "at"), driver.find_element(By.ID, "rate_cap_per_hour")
        assert not at.is_displayed() and cap.is_displayed()
        mode = Select(driver.find_element(By.ID, "mode"))
        mode.select_by_value("daily")
        assert at.is_displayed() and not cap.is_displayed()
        assert driver.find_element(By.CSS_SELECTOR, "label[for=at]").is_displayed()
        mode.select_by_value("hourly")
        assert not at.is_displayed()
        mode.select_by_value("daily")
        at.clear()
        at.send_keys("07:30")
        per = Select(driver.find_element(By.ID, "per"))
        outlets = driver.find_element(By.ID, "update_after_outlets")
        assert not outlets.is_displayed()
        per.select_by_value("story")
        assert outlets.is_displayed()
        per.select_by_value("event")
        driver.find_element(By.CSS_SELECTOR, "input[name=channels][value=console]").click()

        # The preview: the form comes back as typed, with what it would have sent.
        driver.find_element(By.ID, "preview").click()
        wait.until(lambda d: d.find_elements(By.ID, "preview-result"))
        assert driver.find_element(By.ID, "preview-count").text == "1"
        stories = driver.find_elements(By.CSS_SELECTOR, "#preview-table a[href^='/stories/']")
        assert [a.text for a in stories] == ["Microsoft beats estimates on cloud"]
        assert "last 72 h" in driver.find_element(By.ID, "preview-window").text
        assert driver.find_element(By.ID, "query").get_attribute("value").endswith(
            "AND NOT topic:layoffs")
        assert driver.find_element(By.ID, "at").is_displayed()  # still daily
        assert driver.find_element(By.ID, "at").get_attribute("value") == "07:30"
        # The whole page, the preview below the form included, then the usual window again.
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1400, height + 140)
        driver.save_screenshot(str(screenshot_path("subscription-form.png", tmp_path)))
        driver.set_window_size(1400, 1100)

        driver.find_element(By.ID, "save").click()
        wait.until(lambda d: d.find_elements(By.ID, "message"))
        assert driver.find_element(By.ID, "message").text == "Created microsoft-earnings."
        saved = served.run(served.store.get("microsoft-earnings"))
        assert saved is not None and saved.schedule.mode == "daily" and saved.schedule.at == "07:30"

        # Silences: add one with a comment (text, never markup), then expire it.
        driver.find_element(By.LINK_TEXT, "Silences").click()
        wait.until(lambda d: d.title == "wirewatch: silences")
        Select(driver.find_element(By.ID, "kind")).select_by_value("entity")
        driver.find_element(By.ID, "value").send_keys("microsoft")
        duration = driver.find_element(By.ID, "duration")
        duration.clear()
        duration.send_keys("1d12h")
        driver.find_element(By.ID, "comment").send_keys("<b>board</b> saga floods the channel")
        driver.find_element(By.ID, "add-silence").click()
        wait.until(lambda d: d.find_elements(By.ID, "message"))
        row = driver.find_element(By.CSS_SELECTOR, "tr[data-silence='entity:microsoft']")
        assert "web token" in row.text and "in 36.0 h" in row.text
        assert row.find_element(By.CSS_SELECTOR, "td.comment").text == \
            "<b>board</b> saga floods the channel"
        assert not row.find_elements(By.CSS_SELECTOR, "td.comment b")
        # A second one, muting the subscription from its list page, with a reason.
        driver.get(f"{base}/subscriptions")
        listed = driver.find_element(By.CSS_SELECTOR, "tr[data-id=microsoft-earnings]")
        listed.find_element(By.NAME, "comment").send_keys("on holiday")
        listed.find_element(By.CSS_SELECTOR, "form[action$='/mute'] button").click()
        wait.until(lambda d: "muted" in d.find_element(
            By.CSS_SELECTOR, "tr[data-id=microsoft-earnings] td.state").text)
        driver.find_element(By.LINK_TEXT, "Silences").click()
        wait.until(lambda d: d.title == "wirewatch: silences")
        assert len(driver.find_elements(By.CSS_SELECTOR, "#silence-table tr[data-silence]")) == 2
        driver.save_screenshot(str(screenshot_path("silences.png", tmp_path)))

        driver.find_element(By.CSS_SELECTOR, "tr[data-silence='entity:microsoft'] button").click()
        wait.until(lambda d: d.find_elements(By.ID, "message"))
        assert driver.find_element(By.ID, "message").text == \
            "Expired the silence of entity microsoft."
        assert not driver.find_elements(By.CSS_SELECTOR, "tr[data-silence='entity:microsoft']")
        assert list(served.run(served.store.silences())) == ["subscription:microsoft-earnings"]

        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
    finally:
        driver.quit()
