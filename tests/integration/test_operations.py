"""Operations end to end: a real worker's metrics, probes, `wirewatch status` and dashboard.

The worker runs as a subprocess on the session's broker and Redis with the sample feeds, a
feed whose items carry <script> in their titles, and a broken feed. Metrics are scraped and
parsed; the dashboard is driven in Debian's headless Chromium through Selenium. Set
WIREWATCH_SCREENSHOT=docs/dashboard.png to refresh the README's screenshot.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families
from wirewatch.alerts.records import Alert, encode_alert
from wirewatch.connectors.records import RawItem, encode_raw_item
from wirewatch.streams.demo import SAMPLE_FEEDS, SAMPLES, serve_loopback, serve_samples
from wirewatch.streams.embedded import free_port

from tests.integration.test_connector import read_all
from tests.support.alerts import make_alert
from tests.support.processes import stop, wait_for, wirewatch_env

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
HOSTILE_TITLE = "<script>document.title='pwned'</script>Hostile headline about Nvidia"
HOSTILE_FEED = "Hostile <script>document.title='pwned'</script><b>wire</b>"
HOSTILE_RSS = f"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Hostile</title><link>https://hostile.example/</link>
<item><title>{HOSTILE_TITLE.replace("<", "&amp;lt;").replace(">", "&amp;gt;")}</title>
<link>https://hostile.example/story</link><guid>hostile-1</guid>
<description>Nvidia said on Tuesday its new accelerator ships next quarter.</description></item>
</channel></rss>""".encode()


class _Feeds(BaseHTTPRequestHandler):
    """The hostile and broken feeds, and a webhook sink (POST /hook) for test alerts."""

    hook_bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/hook":
            self.hook_bodies.append(body)
        self.send_response(200 if self.path == "/hook" else 404)
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if self.path == "/hostile.xml":
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.end_headers()
            self.wfile.write(HOSTILE_RSS)
        else:
            self.send_response(500)
            self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def get(url: str, *, data: bytes | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    _, body = get(f"{base}/metrics")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples}


def status_document(base: str) -> dict[str, Any]:
    code, body = get(f"{base}/api/v1/status")
    return json.loads(body) if code == 200 else {}


def raw_item(number: int) -> RawItem:
    return RawItem(item_id=f"ops-{number}", feed_id="ops", feed_url="http://ops.example/feed",
                   source="ops.example", url=f"https://ops.example/{number}",
                   title=f"Operations check story {number}", content=f"Body {number} " * 40,
                   fetched_at=datetime.now(UTC))


def wirewatch(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wirewatch", *args], env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def worker(broker, redis_server, unique, topic_factory, tmp_path: Path) -> Iterator[dict[str, Any]]:
    topics = asyncio.run(topic_factory(prefix=f"{unique}."))
    asyncio.run(_produce(broker.bootstrap, topics.raw, b"{not json"))
    port = free_port()
    with serve_samples(SAMPLES) as samples, serve_loopback(_Feeds, "hostile-feeds") as hostile:
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(json.dumps({"feeds": [
            *({"url": f"{samples}/{name}", "name": title} for name, title in SAMPLE_FEEDS),
            {"url": f"{hostile}/hostile.xml", "name": HOSTILE_FEED},
            {"url": f"{hostile}/broken.xml", "name": "Broken wire"}]}))
        env = wirewatch_env(
            WIREWATCH_KAFKA_BOOTSTRAP=broker.bootstrap, WIREWATCH_REDIS_URL=redis_server,
            WIREWATCH_TOPIC_PREFIX=f"{unique}.", WIREWATCH_APP_ID=f"ww-{unique}",
            WIREWATCH_REDIS_PREFIX=f"{unique}:", WIREWATCH_DATA_DIR=str(tmp_path / "data"),
            WIREWATCH_WEB_PORT=str(port), WIREWATCH_WEB_TOKEN="letmein",
            WIREWATCH_MONITOR_SECONDS="1", WIREWATCH_FEEDS_REFRESH_SECONDS="1",
            WIREWATCH_FETCH_ALLOW_NETWORKS='["127.0.0.0/8"]',
            WIREWATCH_KAFKA_IDEMPOTENCE=str(broker.idempotent).lower())
        channels = tmp_path / "channels.yaml"
        channels.write_text(json.dumps({"channels": [
            {"id": "ops-hook", "kind": "webhook", "url": f"{hostile}/hook",
             "secret": "hook-secret"}]}))
        env["WIREWATCH_CHANNELS_FILE"] = str(channels)
        subscriptions = tmp_path / "subscriptions.yaml"
        subscriptions.write_text("subscriptions:\n  - {name: Microsoft earnings, query: "
                                 "'entity:microsoft AND topic:earnings'}\n")
        log = (tmp_path / "worker.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "wirewatch", "run", "--feeds", str(feeds),
             "--subscriptions", str(subscriptions)],
            env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)
        base = f"http://127.0.0.1:{port}"
        try:
            # Ready once every item is through: 8 feed items plus the bad record.
            wait_for(lambda: status_document(base).get("snapshot", {}) is not None and (
                status_document(base).get("snapshot") or {}).get("stages", {}).get(
                    "normalise", {}).get("in", 0) >= 8, 90, "the worker to process the feeds")
            yield {"base": base, "env": env, "topics": topics, "bootstrap": broker.bootstrap,
                   "log": tmp_path / "worker.log", "hostile": hostile}
        finally:
            stop(process)
            log.close()


async def _produce(bootstrap: str, topic: str, value: bytes, key: bytes = b"k") -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, key=key, value=value)
    finally:
        await producer.stop()


def test_metrics_probes_and_status_follow_the_stream(worker: dict[str, Any]) -> None:
    base, env = worker["base"], worker["env"]
    assert get(f"{base}/healthz")[0] == 200
    wait_for(lambda: get(f"{base}/readyz")[0] == 200, 30, "/readyz to say ready")

    before = scrape(base)
    normalised = before[("wirewatch_stage_items_total",
                         (("direction", "in"), ("stage", "normalise")))]
    assert before[("wirewatch_feed_responses_total", (("status", "200"),))] >= 4
    assert before[("wirewatch_feed_responses_total", (("status", "500"),))] >= 1
    assert before[("wirewatch_stage_dead_lettered_total", (("stage", "normalise"),))] == 1
    assert before[("wirewatch_dependency_up", (("dependency", "kafka"),))] == 1
    assert before[("wirewatch_dependency_up", (("dependency", "redis"),))] == 1
    assert before[("wirewatch_articles_total", (("kind", "duplicate"),))] >= 3

    # Values move when items flow: one more raw item is counted in, out and in the topic.
    asyncio.run(_produce(worker["bootstrap"], worker["topics"].raw,
                         encode_raw_item(raw_item(1)), key=b"ops"))
    wait_for(lambda: scrape(base).get(("wirewatch_stage_items_total", (
        ("direction", "in"), ("stage", "normalise")))) == normalised + 1, 30,
             "the extra item to be counted")
    wait_for(lambda: scrape(base).get(("wirewatch_topic_records", (
        ("topic", worker["topics"].articles),))) == 9, 30, "the articles topic to grow")
    wait_for(lambda: (status_document(base).get("snapshot") or {}).get("total_lag") == 0, 30,
             "lag to drain to zero")

    shown = wirewatch("status", "--url", f"{base}/api/v1/status", env=env)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "wirewatch is HEALTHY" in shown.stdout
    assert "news.raw.v1" in shown.stdout or worker["topics"].raw in shown.stdout
    assert "Broken wire" in shown.stdout  # a failing or erroring feed is listed
    strict = wirewatch("status", "--strict", "--json", "--url", f"{base}/api/v1/status",
                       env=env)
    assert strict.returncode == 1  # the dead letter is a warning; --strict counts it
    document = json.loads(strict.stdout)
    assert any("dead-letter" in p["what"] for p in document["problems"])
    down = wirewatch("status", "--url", f"http://127.0.0.1:{free_port()}/api/v1/status",
                     env=env)
    assert down.returncode == 2 and "UNREACHABLE" in down.stderr


def _browser() -> Any:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        if os.environ.get("WIREWATCH_REQUIRE_BROWSER"):
            pytest.fail("Chromium and chromedriver are required (apt install chromium "
                        "chromium-driver)")
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1400,1100"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


class _PageWait:
    """WebDriverWait whose condition may read an element of a page being replaced."""

    def __init__(self, driver: Any, timeout: float) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        self._wait = WebDriverWait(driver, timeout)

    def until(self, condition: Callable[[Any], Any]) -> Any:
        return self._wait.until(lambda driver: _unless_replaced(condition, driver))


def _unless_replaced(condition: Callable[[Any], Any], driver: Any) -> Any:
    """The condition's value, or False if an element it read left the document meanwhile."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        return condition(driver)
    except StaleElementReferenceException:
        return False
    except WebDriverException as error:
        # chromedriver reports an element lost to a re-render this way too, not only as
        # "stale element reference"; anything else is a real failure.
        if "does not belong to the document" in (error.msg or ""):
            return False
        raise


def test_page_wait_asks_again_when_an_element_left_the_document() -> None:
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    answers: list[Any] = [
        StaleElementReferenceException("stale element reference"),
        WebDriverException("unhandled inspector error: Node with given id does not "
                           "belong to the document"),
        "found",
    ]

    def condition(_driver: Any) -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert [_unless_replaced(condition, None) for _ in range(3)] == [False, False, "found"]
    answers.append(WebDriverException("invalid session id"))
    with pytest.raises(WebDriverException, match="invalid session id"):
        _unless_replaced(condition, None)


@pytest.mark.browser
def test_dashboard_in_headless_chromium(worker: dict[str, Any], tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    base = worker["base"]
    driver = _browser()
    try:
        driver.get(f"{base}/")
        wait = _PageWait(driver, 30)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#feed-table tbody tr")) == 5)

        # Live data: every stage, the lag table, the stories and their outlet counts.
        stages = [td.text for td in driver.find_elements(
            By.CSS_SELECTOR, "#stage-table tbody td:first-child")]
        assert stages == ["normalise", "tag", "match", "deliver"]
        assert driver.find_elements(By.CSS_SELECTOR, "#lag-table tbody tr")
        # The hourly plots draw once the monitor has two samples (one a second here).
        wait.until(lambda d: d.refresh() or d.find_elements(
            By.CSS_SELECTOR, "#stage-table svg polyline"))
        outlets = {row.find_element(By.CSS_SELECTOR, "td:first-child").text:
                   row.find_element(By.CSS_SELECTOR, "td:nth-child(4)").text
                   for row in driver.find_elements(By.CSS_SELECTOR, "#story-table tbody tr")}
        assert [n for title, n in outlets.items() if "OpenAI" in title] == ["3"], outlets
        # Each story's language, recognised from its text (the sample feeds are English).
        assert {td.text for td in driver.find_elements(
            By.CSS_SELECTOR, "#story-table td.lang")} == {"en"}
        # Which subscription got which story is its owner's business: not shown logged out.
        assert "Log in" in driver.find_element(By.ID, "hidden-deliveries").text
        assert "microsoft-earnings" not in driver.find_element(By.ID, "delivery-table").text

        # Feed values are text, never markup: a feed named with <script> shows it as text
        # and it never runs; markup in item titles is gone already (normalised away).
        assert "Hostile headline about Nvidia" in outlets
        assert HOSTILE_FEED in driver.find_element(By.ID, "feed-table").text
        assert driver.title == "wirewatch: dashboard"
        assert not driver.find_elements(By.CSS_SELECTOR, "main script, #feed-table b")

        # The feed table sorts by a clicked header, both ways, and filters.
        def names() -> list[str]:
            return [td.text for td in driver.find_elements(
                By.CSS_SELECTOR, "#feed-table tbody tr:not([hidden]) td:first-child")]

        header = driver.find_element(By.CSS_SELECTOR, "#feed-table th:first-child")
        header.click()
        assert names() == sorted(names(), key=str.lower)
        header.click()
        assert names() == sorted(names(), key=str.lower, reverse=True)
        status = driver.find_element(By.CSS_SELECTOR, "#feed-table th:nth-child(2)")
        status.click()
        states = [td.text.split()[0] for td in driver.find_elements(
            By.CSS_SELECTOR, "#feed-table tbody td:nth-child(2)")]
        assert states == sorted(states) and "erroring" in states
        driver.find_element(By.CSS_SELECTOR, "input[data-filter=feed-table]").send_keys("wire")
        assert sorted(names()) == ["Broken wire", HOSTILE_FEED, "Wire Daily"]
        screenshot = Path(os.environ.get("WIREWATCH_SCREENSHOT") or tmp_path / "dashboard.png")
        driver.execute_script("sessionStorage.clear()")  # forget the sort and the filter
        driver.get(f"{base}/")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#feed-table tbody tr")) == 5)

        # At a glance: one verdict with its reasons, a card per channel, charts with axes.
        assert driver.find_element(By.ID, "verdict").text == "degraded"  # the dead letter
        assert "dead-letter" in driver.find_element(By.ID, "reasons").text
        # The card counts what the delivery table shows sent (the monitor samples each second).
        channel = "console"  # the subscriptions file names no channel
        wait.until(lambda d: d.refresh() or int(d.find_element(
            By.CSS_SELECTOR, f"#channel-{channel} .counts b").text) >= 1)
        assert "sending" in driver.find_element(By.ID, f"channel-{channel}").text
        assert driver.find_elements(By.ID, "channel-ops-hook")  # configured: shown at zero
        deliver = driver.find_element(By.XPATH, "//table[@id='stage-table']//tr[td[1]='deliver']")
        # The deliver stage's out counts deliveries: it was "in 1 / out 0" before.
        assert int(deliver.find_element(By.CSS_SELECTOR, "td:nth-child(3)").text) >= 1
        wait.until(lambda d: d.refresh() or d.find_elements(
            By.CSS_SELECTOR, "#chart-throughput polyline"))
        chart = driver.find_element(By.CSS_SELECTOR, "#chart-throughput svg")
        assert {"records/s", "-60 min", "now", "normalise"} <= set(
            t.text for t in chart.find_elements(By.CSS_SELECTOR, "text"))
        for name, unit in (("lag", "records"), ("failures", "per min")):
            assert unit in driver.find_element(By.CSS_SELECTOR, f"#chart-{name} svg").text
        driver.save_screenshot(str(screenshot))

        # 400 px wide: nothing wider than the window but the tables, which scroll inside
        # their own box; the dark theme follows the system's.
        driver.set_window_size(400, 1100)
        wait.until(lambda d: d.execute_script("return window.innerWidth") <= 400)
        assert driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth")
        driver.save_screenshot(str(screenshot.with_name("dashboard-narrow.png")))
        driver.set_window_size(1400, 1100)
        light = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [
            {"name": "prefers-color-scheme", "value": "dark"}]})
        dark = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
        assert (light, dark) == ("rgb(246, 247, 249)", "rgb(20, 23, 28)")
        driver.save_screenshot(str(screenshot.with_name("dashboard-dark.png")))
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [
            {"name": "prefers-color-scheme", "value": "light"}]})

        # Dead letters: visible to all, sent back to their stage only after a login.
        driver.get(f"{base}/dlq")
        assert "normalise" in driver.find_element(By.ID, "dlq-table").text
        assert not driver.find_elements(By.CSS_SELECTOR, "#dlq-table form")
        driver.get(f"{base}/login")
        driver.find_element(By.NAME, "password").send_keys("letmein")
        driver.find_element(By.CSS_SELECTOR, "form button").click()
        wait.until(lambda d: d.title == "wirewatch: dashboard")
        deliveries = driver.find_element(By.ID, "delivery-table").text  # an admin sees all
        assert "microsoft-earnings" in deliveries and "sent" in deliveries
        driver.get(f"{base}/dlq")
        driver.find_element(By.CSS_SELECTOR, "#dlq-table form button").click()
        wait.until(lambda d: d.find_elements(By.ID, "message"))
        assert "back to normalise" in driver.find_element(By.ID, "message").text
        # Still not JSON, so the stage refuses it again: a second dead letter, same stage.
        dead = asyncio.run(read_all(worker["bootstrap"], worker["topics"].dlq, expected=2))
        assert [dict(r.headers)["stage"] for r in dead] == [b"normalise", b"normalise"]
        driver.get(f"{base}/dlq")
        driver.save_screenshot(str(screenshot.with_name("dlq.png")))

        # Trending: the co-leads the three copies of the OpenAI story name, watched by
        # nobody, are on the dashboard; "watch this" writes them into the watchlist file.
        driver.get(f"{base}/")
        wait.until(lambda d: "Jan Leike" in d.find_element(By.ID, "trending-table").text)
        assert "Ilya Sutskever" in driver.find_element(By.ID, "trending-table").text
        driver.execute_script("document.getElementById('trending').scrollIntoView()")
        driver.save_screenshot(str(screenshot.with_name("trending.png")))
        driver.find_element(By.XPATH, "//tr[td[1]='Jan Leike']//button").click()
        wait.until(lambda d: "Jan Leike (jan-leike) is now watched" in d.find_element(
            By.ID, "message").text)
        watched = Path(worker["env"]["WIREWATCH_DATA_DIR"]) / "watchlist.yaml"
        assert "Jan Leike" in watched.read_text()

        # Feeds: a page per feed with its last polls; poll now, disable and enable it, and
        # add a feed, all live on the running pipeline.
        driver.get(f"{base}/feeds")
        driver.find_element(By.LINK_TEXT, "Broken wire").click()
        wait.until(lambda d: d.find_elements(By.ID, "fetch-table"))

        def polls() -> int:
            return len(driver.find_elements(By.CSS_SELECTOR, "#fetch-table td.num:nth-child(2)"))

        assert "500" in driver.find_element(By.ID, "fetch-table").text
        before = polls()
        driver.find_element(By.XPATH, "//button[text()='poll now']").click()
        wait.until(lambda d: "Polling now" in d.find_element(By.ID, "message").text)
        wait.until(lambda d: d.refresh() or polls() > before)  # not its backoff: at once
        driver.save_screenshot(str(screenshot.with_name("feed.png")))
        driver.find_element(By.XPATH, "//button[text()='disable']").click()
        wait.until(lambda d: "disabled" in d.find_element(By.CSS_SELECTOR, "h2 .badge").text)
        driver.find_element(By.XPATH, "//button[text()='enable']").click()
        wait.until(lambda d: "Enabled" in d.find_element(By.ID, "message").text)
        driver.get(f"{base}/feeds")
        driver.find_element(By.NAME, "url").send_keys(f"{worker['hostile']}/added.xml")
        driver.find_element(By.NAME, "name").send_keys("Added from the page")
        driver.find_element(By.XPATH, "//button[text()='Add feed']").click()
        wait.until(lambda d: "Added" in d.find_element(By.ID, "message").text)
        # The connector re-reads the registry every second here and polls the new feed.
        wait.until(lambda d: d.refresh() or "500" in d.find_element(By.ID, "fetch-table").text)

        # Subscriptions: create one through the page, mute it, then test-send it.
        driver.get(f"{base}/subscriptions")
        driver.find_element(By.ID, "new-subscription").click()
        driver.find_element(By.ID, "name").send_keys("Nvidia launches")
        driver.find_element(By.ID, "query").send_keys("entity:nvidia AND topic:product-launch")
        driver.find_element(By.CSS_SELECTOR, "input[name=channels][value=ops-hook]").click()
        driver.find_element(By.ID, "save").click()
        wait.until(lambda d: d.find_elements(By.ID, "message"))
        assert driver.find_element(By.ID, "message").text == "Created nvidia-launches."
        row = driver.find_element(By.CSS_SELECTOR, "tr[data-id=nvidia-launches]")
        assert "ops-hook" in row.text and "active" in row.text
        row.find_element(By.CSS_SELECTOR, "form[action$='/mute'] button").click()
        wait.until(lambda d: "muted" in d.find_element(
            By.CSS_SELECTOR, "tr[data-id=nvidia-launches] td.state").text)
        driver.save_screenshot(str(screenshot.with_name("subscriptions.png")))
        shown = wirewatch("subscriptions", "show", "nvidia-launches", env=worker["env"])
        assert shown.returncode == 0 and "ops-hook" in shown.stdout, shown.stderr

        driver.find_element(By.CSS_SELECTOR, "tr[data-id=nvidia-launches] a[href$='/test']").click()
        title = driver.find_element(By.ID, "title")
        title.clear()
        title.send_keys("Nvidia launches a new accelerator")
        driver.find_element(By.ID, "body").send_keys(
            "Nvidia unveiled and launched its new accelerator chip on Tuesday; it is "
            "available today.")
        driver.find_element(By.ID, "send").click()
        wait.until(lambda d: d.find_elements(By.ID, "outcome-table"))
        assert "ops-hook sent" in driver.find_element(By.ID, "outcome-table").text
        assert "Would fire" in driver.find_element(By.ID, "verdict").text
        wait_for(lambda: any(b"[test] Nvidia launches a new accelerator" in body
                             for body in _Feeds.hook_bodies), 10, "the test alert's webhook")

        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
    finally:
        driver.quit()


def test_actions_need_login_and_csrf(worker: dict[str, Any]) -> None:
    base = worker["base"]
    form = b"partition=0&offset=0&csrf=x"
    assert get(f"{base}/dlq/resend", data=form)[0] == 403  # not logged in
    code, body = get(f"{base}/login", data=b"token=wrong")
    assert code == 401 and b"wrong token" in body
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    opener.open(urllib.request.Request(f"{base}/login", data=b"token=letmein"), timeout=10)
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(urllib.request.Request(f"{base}/dlq/resend", data=form), timeout=10)
    assert refused.value.code == 403 and b"CSRF" in refused.value.read()


def dlq_command(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`wirewatch dlq ...`, run through the group itself so the test does not depend on where
    streams/cli.py registers it."""
    return subprocess.run([sys.executable, "-c", "from wirewatch.cli.dlq import dlq; "
                           "dlq(prog_name='wirewatch dlq')", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_dlq_list_and_replay_from_the_command_line(worker: dict[str, Any]) -> None:
    env, base = worker["env"], worker["base"]
    listed = dlq_command("list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "normalise" in listed.stdout and "{not json" in listed.stdout
    [bad] = [json.loads(line) for line in dlq_command("list", "--json", "--stage", "normalise",
                                                      env=env).stdout.splitlines()]
    first = f"{bad['partition']}/{bad['offset']}"
    assert bad["headers"]["source_topic"] == worker["topics"].raw

    # Refused before anything is sent: no token, or no worker at the address.
    no_token = dlq_command("replay", "--stage", "normalise",
                           env={k: v for k, v in env.items() if k != "WIREWATCH_WEB_TOKEN"})
    assert no_token.returncode == 1 and "WIREWATCH_WEB_TOKEN is not set" in no_token.stderr
    down = dlq_command("replay", "--stage", "normalise", "--url",
                       f"http://127.0.0.1:{free_port()}", env=env)
    assert down.returncode == 1 and "cannot reach the wirewatch worker" in down.stderr
    dry = dlq_command("replay", "--stage", "normalise", "--dry-run", env=env)
    assert dry.returncode == 0 and f"{first}  normalise  would send" in dry.stdout

    sent = dlq_command("replay", "--stage", "normalise", "--url", base, env=env)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert sent.stdout.splitlines() == [f"{first}  normalise  sent"]
    # Still not JSON, so normalise refuses it again: a second dead letter.
    dead = asyncio.run(read_all(worker["bootstrap"], worker["topics"].dlq, expected=2))
    assert [dict(r.headers)["stage"] for r in dead] == [b"normalise", b"normalise"]
    assert dict(dead[1].headers)["source_offset"] == dict(dead[0].headers)["source_offset"]
    second = f"{dead[1].partition}/{dead[1].offset}"

    again = dlq_command("replay", "--stage", "normalise", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.splitlines() == [f"{first}  normalise  skipped (already replayed)",
                                         f"{second}  normalise  sent"]
    assert "1 skipped, 1 sent" in again.stderr


async def _dead_delivery(bootstrap: str, topic: str, alert: Alert) -> str:
    """A failed delivery's dead letter as the dispatcher writes it; returns its place."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, encode_alert(alert), key=b"s", headers=[
            ("stage", b"deliver"), ("channel", b"ops-hook"), ("reason", b"http_500"),
            ("error", b"500 from the webhook")])
    finally:
        await producer.stop()
    return f"{sent.partition}/{sent.offset}"


def test_a_failed_delivery_is_queued_again_from_the_command_line(
        worker: dict[str, Any]) -> None:
    env = worker["env"]
    alert = make_alert(alert_id=f"replayed-{worker['topics'].dlq}", channels=["ops-hook"],
                       title="Replayed delivery from the dead-letter queue")
    place = asyncio.run(_dead_delivery(worker["bootstrap"], worker["topics"].dlq, alert))

    sent = dlq_command("replay", "--record", place, env=env)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert sent.stdout.splitlines() == [f"{place}  deliver (ops-hook)  sent"]
    wait_for(lambda: any(alert.title.encode() in body for body in _Feeds.hook_bodies), 30,
             "the webhook to get the replayed alert")
    # Sent is final: the worker refuses to queue it once more, even when asked --again.
    again = dlq_command("replay", "--record", place, "--again", env=env)
    assert again.returncode == 1
    assert f"{place}  deliver (ops-hook)  refused (alert {alert.alert_id} was sent to " \
           "ops-hook already)" in again.stdout


def event_items() -> list[RawItem]:
    """Two outlets' own write-ups of one event, and a syndicated copy of the first."""
    from tests.unit.streams.test_events import REUTERS, VERGE

    now = datetime.now(UTC)

    def one(item_id: str, source: str, title: str, text: str) -> RawItem:
        return RawItem(item_id=item_id, feed_id="events", feed_url="http://events.example/feed",
                       source=source, url=f"https://{item_id}.example/story", title=title,
                       content=text, fetched_at=now, published=now)

    return [one("wire-ev", "Wire Events", *REUTERS),
            one("verge-ev", EVENT_SOURCE, *VERGE),
            one("copy-ev", "Copy Blog", REUTERS[0], REUTERS[1] + "\nSource link")]


EVENT_SOURCE = "<i>Verge</i> & co"
WRITE_UPS = ("OpenAI safety team leaders resign",
             "Jan Leike quits OpenAI, says safety took a back seat")


@pytest.mark.browser
def test_event_and_story_pages_in_headless_chromium(worker: dict[str, Any],
                                                    tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    for raw in event_items():
        asyncio.run(_produce(worker["bootstrap"], worker["topics"].raw, encode_raw_item(raw),
                             key=raw.item_id.encode()))
    base = worker["base"]
    driver = _browser()
    try:
        wait = _PageWait(driver, 30)
        driver.get(f"{base}/events")

        def event_row(d: Any) -> Any:
            """The event's row once both write-ups are in it. Its headline is its founding
            story's: whichever write-up the worker took first (they may share a batch)."""
            d.refresh()
            rows = [r for r in d.find_elements(By.CSS_SELECTOR, "#event-table tbody tr")
                    if any(title in r.text for title in WRITE_UPS)]
            return rows[0] if len(rows) == 1 and rows[0].find_element(
                By.CSS_SELECTOR, "td:nth-child(4)").text == "2" else False

        row = wait.until(event_row)
        cells = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
        assert cells[4] == "3"  # outlets: both write-ups and the copy
        assert "openai" in cells[5]
        # The sample feeds' stories are events of their own.
        assert len(driver.find_elements(By.CSS_SELECTOR, "#event-table tbody tr")) > 1
        screenshot = Path(os.environ.get("WIREWATCH_SCREENSHOT") or tmp_path / "dashboard.png")
        driver.save_screenshot(str(screenshot.with_name("events.png")))

        row.find_element(By.CSS_SELECTOR, "td:first-child a").click()
        wait.until(lambda d: d.title == "wirewatch: event")
        timeline = driver.find_element(By.ID, "timeline-table").text
        assert "OpenAI safety team leaders resign" in timeline
        assert "Jan Leike quits OpenAI" in timeline
        assert EVENT_SOURCE in timeline  # a feed's markup is text, never markup
        assert "Copy Blog" in timeline  # the copy, under its story
        assert not driver.find_elements(By.CSS_SELECTOR, "main i")
        driver.save_screenshot(str(screenshot.with_name("event.png")))

        link = next(a for a in driver.find_elements(By.CSS_SELECTOR, "#timeline-table a")
                    if a.text == WRITE_UPS[0])
        link.click()
        wait.until(lambda d: d.title == "wirewatch: story")
        copies = driver.find_element(By.ID, "copy-table").text
        assert "Wire Events" in copies and "Copy Blog" in copies
        assert "Part of the event" in driver.find_element(By.ID, "story").text

        code, body = get(f"{base}/stories/no-such-story")
        assert code == 404 and b"No such story" in body
        code, _ = get(f"{base}/events/{'x' * 500}")
        assert code == 404
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
    finally:
        driver.quit()
