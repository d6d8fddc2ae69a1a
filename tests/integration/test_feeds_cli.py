"""`wirewatch feeds ...`: the registry round trip through Redis, and checking a local feed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from wirewatch.streams.demo import SAMPLES, serve_samples

from tests.support.processes import wirewatch_env


def wirewatch(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wirewatch", *args], env=wirewatch_env(**env),
                          capture_output=True, text=True, timeout=60, input="")


@pytest.mark.redis
def test_add_list_export_remove_import_round_trip(redis_server, unique, tmp_path: Path):
    env = {"WIREWATCH_REDIS_URL": redis_server, "WIREWATCH_REDIS_PREFIX": f"{unique}:"}
    assert wirewatch("feeds", "add", "https://a.example/rss", "--name", "A", **env).returncode == 0
    assert wirewatch("feeds", "add", "https://b.example/atom.xml", **env).returncode == 0
    again = wirewatch("feeds", "add", "https://a.example/rss?utm_source=x", **env)
    assert again.stdout.startswith("updated ")  # same canonical URL, same feed

    listed = [json.loads(line) for line in
              wirewatch("feeds", "list", "--json", **env).stdout.splitlines()]
    assert sorted(entry["url"] for entry in listed) == [
        "https://a.example/rss?utm_source=x", "https://b.example/atom.xml"]

    opml = tmp_path / "feeds.opml"
    assert wirewatch("feeds", "export", "-o", str(opml), **env).returncode == 0
    unconfirmed = wirewatch("feeds", "remove", listed[0]["url"], **env)  # nobody said yes
    assert unconfirmed.returncode == 1 and "nothing removed" in unconfirmed.stderr
    assert f"({listed[0]['url']})? [y/N]" in unconfirmed.stderr
    for entry in listed:
        assert wirewatch("feeds", "remove", entry["url"], "--yes", **env).returncode == 0
    assert wirewatch("feeds", "list", "--json", **env).stdout == ""
    missing = wirewatch("feeds", "remove", "https://a.example/rss", "--yes", **env)
    assert missing.returncode != 0 and "no registered feed" in missing.stderr

    imported = wirewatch("feeds", "import", str(opml), **env)
    assert imported.stdout.strip() == "imported 2 feed(s), 2 new"
    relisted = [json.loads(line) for line in
                wirewatch("feeds", "list", "--json", **env).stdout.splitlines()]
    assert relisted == listed  # names, urls and ids survive the OPML round trip


@pytest.mark.redis
def test_bad_input_is_refused_with_a_clear_error(redis_server, unique, tmp_path: Path):
    env = {"WIREWATCH_REDIS_URL": redis_server, "WIREWATCH_REDIS_PREFIX": f"{unique}:"}
    bad_url = wirewatch("feeds", "add", "ftp://x.example/feed", **env)
    assert bad_url.returncode != 0
    assert "must be http(s)" in bad_url.stderr and "Traceback" not in bad_url.stderr
    hostile = tmp_path / "bomb.opml"
    hostile.write_text('<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa">]>'
                       '<opml><body><outline xmlUrl="https://x.example/&a;"/></body></opml>')
    refused = wirewatch("feeds", "import", str(hostile), **env)
    assert refused.returncode != 0 and "not valid or safe XML" in refused.stderr
    assert wirewatch("feeds", "list", "--json", **env).stdout == ""
    typo = tmp_path / "typo.yaml"
    typo.write_text("feeds:\n  - url: https://x.example/rss\n    nmae: X\n")
    refused = wirewatch("feeds", "import", str(typo), **env)
    assert refused.returncode != 0 and "typo.yaml:3:" in refused.stderr
    assert "did you mean 'name'?" in refused.stderr
    lenient = wirewatch("feeds", "import", "--lenient", str(typo), **env)
    assert lenient.returncode == 0 and "unknown key 'nmae'" in lenient.stderr
    assert [json.loads(line)["url"] for line in wirewatch(
        "feeds", "list", "--json", **env).stdout.splitlines()] == ["https://x.example/rss"]


def test_check_prints_items_of_a_local_feed_without_publishing():
    with serve_samples(SAMPLES) as base:
        url = f"{base}/techpulse-atom.xml"
        blocked = wirewatch("feeds", "check", url)
        allowed = wirewatch("feeds", "check", url, "--allow-network", "127.0.0.0/8")
    assert blocked.returncode != 0 and "blocked address 127.0.0.1" in blocked.stderr
    assert allowed.returncode == 0, allowed.stderr
    items = [json.loads(line) for line in allowed.stdout.splitlines()]
    assert [item["title"] for item in items] == [
        "OpenAI disbands its superalignment safety team as co-leads depart",
        "Robotics startup Gripwise raises $40 million series B",
    ]
    assert items[0]["url"] == "https://techpulse.example/2026/11/27/openai-superalignment"
    assert "HTTP 200, 2 item(s)" in allowed.stderr


@pytest.mark.redis
def test_list_as_a_table_yaml_and_json(redis_server, unique):
    env = {"WIREWATCH_REDIS_URL": redis_server, "WIREWATCH_REDIS_PREFIX": f"{unique}:"}
    long_url = "https://a-long-host-name.example/" + "section/" * 20 + "feed.xml"
    assert wirewatch("feeds", "add", long_url, "--name", "Long", **env).returncode == 0
    assert wirewatch("feeds", "add", "https://b.example/rss", "--name", "B", **env).returncode == 0

    listed = wirewatch("feeds", "list", **env)  # piped, as in a script
    assert listed.returncode == 0 and listed.stderr.strip() == "2 feed(s)"
    header, _, *rows = listed.stdout.splitlines()
    assert header.split()[:5] == ["id", "source", "health", "url", "name"]
    assert any(long_url in row and "Long" in row for row in rows)  # one line, not wrapped
    assert len(rows) == 2 and "\x1b" not in listed.stdout
    assert wirewatch("feeds", "list", "--no-color", **env).stdout == listed.stdout

    as_json = [json.loads(line) for line in
               wirewatch("feeds", "list", "-o", "json", **env).stdout.splitlines()]
    as_yaml = yaml.safe_load(wirewatch("feeds", "list", "-o", "yaml", **env).stdout)
    assert as_json == as_yaml and len(as_json) == 2
    assert {entry["url"] for entry in as_yaml} == {long_url, "https://b.example/rss"}
    assert all(entry["error_streak"] == 0 and entry["last_success"] is None
               for entry in as_yaml)  # raw values, not "never"


@pytest.mark.redis
def test_disable_enable_and_poll_a_file_feed_or_a_registered_one(redis_server, unique,
                                                                 tmp_path: Path):
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - {url: 'https://file.example/rss', name: From file}\n")
    env = {"WIREWATCH_REDIS_URL": redis_server, "WIREWATCH_REDIS_PREFIX": f"{unique}:",
           "WIREWATCH_FEEDS_FILE": str(feeds)}
    assert wirewatch("feeds", "add", "https://reg.example/rss", **env).returncode == 0

    def health() -> dict[str, str]:
        return {entry["url"]: entry["health"] for entry in map(json.loads, wirewatch(
            "feeds", "list", "-o", "json", **env).stdout.splitlines())}

    disabled = wirewatch("feeds", "disable", "https://file.example/rss", **env)
    assert disabled.returncode == 0 and disabled.stdout.startswith("disabled ")
    assert health() == {"https://file.example/rss": "disabled",
                        "https://reg.example/rss": "new"}
    refused = wirewatch("feeds", "poll", "https://file.example/rss", **env)
    assert refused.returncode == 1 and "enable it first" in refused.stderr
    assert "already disabled" in wirewatch("feeds", "disable", "https://file.example/rss",
                                           **env).stdout
    assert wirewatch("feeds", "enable", "https://file.example/rss", **env).returncode == 0
    assert health()["https://file.example/rss"] == "new"
    polled = wirewatch("feeds", "poll", "https://reg.example/rss", **env)
    assert polled.returncode == 0 and "is due now" in polled.stdout
    unknown = wirewatch("feeds", "disable", "https://nowhere.example/rss", **env)
    assert unknown.returncode == 1 and "no feed" in unknown.stderr
