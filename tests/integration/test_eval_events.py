"""`wirewatch eval events` as a user runs it: articles to events, pairs to scores."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.processes import wirewatch_env
from tests.unit.streams.test_events import BLOG, REUTERS, UNRELATED, VERGE


def write_articles(path: Path) -> None:
    rows = [{"id": "r", "title": REUTERS[0], "text": REUTERS[1], "url": "https://reuters.example/a"},
            {"id": "r-copy", "title": REUTERS[0], "text": REUTERS[1] + "\nSource link",
             "url": "https://blog.example/copy"},
            {"id": "v", "title": VERGE[0], "text": VERGE[1]},
            {"id": "u", "title": UNRELATED[0], "text": UNRELATED[1]},
            {"id": "b", "title": BLOG[0], "text": BLOG[1],
             "published": "2026-12-07T10:00:00+00:00"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wirewatch", "eval", "events", *args],
                          env=wirewatch_env(), capture_output=True, text=True, timeout=300,
                          check=False)


def test_articles_get_stories_and_events(tmp_path: Path) -> None:
    articles = tmp_path / "articles.jsonl"
    write_articles(articles)
    result = run(str(articles))
    assert result.returncode == 0, result.stderr
    rows = {r["id"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert rows["r-copy"]["story_id"] == "r"  # a copy: the same story
    assert rows["v"]["story_id"] == "v" and rows["v"]["event_id"] == "r"  # a write-up: the event
    assert rows["u"]["event_id"] == "u"
    assert rows["r-copy"]["event_id"] == "r"


def test_pairs_are_scored_and_labels_summarised(tmp_path: Path) -> None:
    articles, pairs = tmp_path / "articles.jsonl", tmp_path / "pairs.jsonl"
    write_articles(articles)
    pairs.write_text("".join(json.dumps(p) + "\n" for p in [
        {"pair_id": "rv", "a": "r", "b": "v", "lang": "en", "overall": 1.0},
        {"pair_id": "ru", "a": "r", "b": "u", "lang": "en", "overall": 4.0},
        {"pair_id": "vb", "a": "v", "b": "b", "lang": "en", "overall": 1.5}]))
    result = run(str(articles), "--pairs", str(pairs), "--labels")
    assert result.returncode == 0, result.stderr
    scored = {r["pair_id"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert scored["rv"]["same_event"] and not scored["ru"]["same_event"]
    assert 0.0 <= scored["ru"]["similarity"] < scored["rv"]["similarity"] <= 1.0
    summary = json.loads(result.stderr[result.stderr.index("{"):])
    assert summary["en"]["pairs"] == 3 and summary["en"]["precision"] == 1.0


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    articles, pairs = tmp_path / "articles.jsonl", tmp_path / "pairs.jsonl"
    write_articles(articles)
    pairs.write_text(json.dumps({"pair_id": "x", "a": "r", "b": "missing"}) + "\n")
    result = run(str(articles), "--pairs", str(pairs))
    assert result.returncode != 0 and "'missing' is not in the articles file" in result.stderr
    assert "Traceback" not in result.stderr
    late = {"id": 1, "text": "x", "published": "soon"}
    (tmp_path / "late.jsonl").write_text(json.dumps(late) + "\n")
    result = run(str(tmp_path / "late.jsonl"))
    assert result.returncode != 0 and "is not an ISO 8601 time" in result.stderr
    result = run(str(articles), "--labels")
    assert result.returncode != 0 and "give --pairs too" in result.stderr
