"""`wirewatch subscriptions ...` against the embedded Redis, as a user runs it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from tests.support.cli import Run, cli
from wirewatch.cli.subscriptions import parse_until


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("WIREWATCH_DATA_DIR", str(tmp_path / "data"))
    channels = tmp_path / "channels.yaml"
    channels.write_text("channels:\n  - {id: hook, kind: webhook, url: 'https://h.example/x',"
                        " secret: s}\n", encoding="utf-8")
    monkeypatch.setenv("WIREWATCH_CHANNELS_FILE", str(channels))
    return cli()


def test_add_show_list_export_import_remove(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run("subscriptions", "add", "OpenAI leadership", "--query",
                         "entity:openai AND topic:leadership-change", "--channel", "hook",
                         "--mode", "daily", "--at", "07:30", "--timezone", "Europe/Paris",
                         "--quiet", "22:00-06:00", "--min-salience", "0.7")
    assert code == 0, err
    assert "added subscription openai-leadership" in out
    shown = yaml.safe_load(run("subscriptions", "show", "openai-leadership")[1])
    assert shown["schedule"] == {"mode": "daily", "timezone": "Europe/Paris", "at": "07:30",
                                 "quiet_hours": ["22:00", "06:00"]}
    assert shown["channels"] == ["hook"] and shown["min_salience"] == 0.7
    exported = tmp_path / "subs.yaml"
    exported.write_text(run("subscriptions", "export")[1], encoding="utf-8")
    code, _, err = run("subscriptions", "remove", "openai-leadership", input="n\n")
    assert code == 1 and "Remove subscription openai-leadership (OpenAI leadership: " in err
    assert "nothing removed" in err
    code, _, err = run("subscriptions", "remove", "openai-leadership")  # stdin closed: no
    assert code == 1 and "pass --yes" in err
    assert run("subscriptions", "show", "openai-leadership")[0] == 0
    code, out, _ = run("subscriptions", "remove", "openai-leadership", input="y\n")
    assert code == 0 and "removed subscription openai-leadership" in out
    assert run("subscriptions", "list", "--json")[1] == ""
    code, out, _ = run("subscriptions", "import", str(exported))
    assert code == 0 and "imported 1 subscriptions (1 new)" in out
    (line,) = run("subscriptions", "list", "--json")[1].splitlines()
    assert json.loads(line) == shown


@pytest.mark.parametrize(("args", "message"), [
    (("--query", "entity:"), "unexpected 'entity:'"),
    (("--query", "topic:a", "--channel", "pager"), "unknown channel(s) ['pager']"),
    (("--query", "topic:a", "--timezone", "Mars/Olympus"), "unknown time zone"),
    (("--query", "topic:a", "--quiet", "25:00-07:00"), "not a time of day"),
    (("--query", "entity:openai AND topic:semiconductors"),
     "unknown topic 'semiconductors' at column 19"),
    (("--query", "topic:x AND AND ("), "expected a term, found 'AND' at column 13"),
])
def test_bad_subscriptions_are_refused(run, args: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run("subscriptions", "add", "Bad", *args)
    assert code == 1 and message in err


def test_queries_follow_the_watchlist_in_force(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run("subscriptions", "add", "Chips", "--query", "entity:tsmc")
    assert code == 1 and "unknown entity 'tsmc' at column 1" in err
    assert run("watchlist", "add", "tsmc", "--name", "TSMC", "--ticker", "NYSE:TSM")[0] == 0
    code, out, err = run("subscriptions", "add", "Chips", "--query", "entity:tsmc")
    assert code == 0, err
    bad = tmp_path / "bad.yaml"
    bad.write_text("subscriptions:\n  - {name: Typo, query: 'topic:earning'}\n",
                   encoding="utf-8")
    code, _, err = run("subscriptions", "import", str(bad))
    assert code == 1 and "did you mean topic:earnings?" in err
    assert [json.loads(line)["id"] for line in
            run("subscriptions", "list", "--json")[1].splitlines()] == ["chips"]


def test_mute_and_test(run) -> None:  # type: ignore[no-untyped-def]
    run("subscriptions", "add", "OpenAI", "--query", "entity:openai")
    code, out, _ = run("subscriptions", "mute", "entity", "openai", "--for", "2h",
                       "--comment", "board meeting noise")
    assert code == 0 and "muted entity openai until" in out
    assert ["entity", "openai"] == run("subscriptions", "silences")[1].splitlines()[2].split()[:2]
    [silence] = [json.loads(line) for line in
                 run("subscriptions", "silences", "-o", "json")[1].splitlines()]
    assert silence["comment"] == "board meeting noise"
    assert silence["created_by"].startswith("cli:")
    assert run("subscriptions", "unmute", "entity", "openai")[0] == 0
    code, _, err = run("subscriptions", "unmute", "entity", "openai")
    assert code == 1 and "is not muted" in err
    code, out, _ = run("subscriptions", "test", "openai", "--title", "OpenAI names a new CEO",
                       "--send")
    assert code == 0
    assert json.loads(out.splitlines()[0])["matches"] is True
    assert "console: sent" in out


def test_parse_until() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_until("1d2h30m", None, now) == datetime(2026, 1, 2, 2, 30, tzinfo=UTC)
    assert parse_until(None, "2026-02-01T09:00+01:00", now).isoformat() == (
        "2026-02-01T09:00:00+01:00")
    with pytest.raises(Exception, match="write e.g. 30m"):
        parse_until("2 hours", None, now)


def test_list_as_a_table_yaml_and_json(run) -> None:  # type: ignore[no-untyped-def]
    assert run("subscriptions", "list") == (0, "no subscriptions\n", "")
    for name, query in (("OpenAI leadership", "entity:openai AND topic:leadership-change"),
                        ("Earnings", "topic:earnings")):
        code, _, err = run("subscriptions", "add", name, "--query", query)
        assert code == 0, err
    code, out, _ = run("subscriptions", "list")
    header, _, *rows = out.splitlines()
    assert code == 0 and header.split() == ["id", "name", "owner", "channels", "mode", "per",
                                            "query"]
    assert "\x1b" not in out and len(rows) == 2
    assert any(row.startswith("openai-leadership ") and row.endswith(
        "entity:openai AND topic:leadership-change") for row in rows)
    as_json = [json.loads(line) for line in run("subscriptions", "list", "-o", "json")[1]
               .splitlines()]
    assert yaml.safe_load(run("subscriptions", "list", "-o", "yaml")[1]) == as_json
    assert [entry["id"] for entry in as_json] == ["earnings", "openai-leadership"]
