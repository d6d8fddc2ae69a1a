"""`wirewatch watchlist`, `taxonomy` and `eval tag` as a user runs them."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.support.cli import Run, cli


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("WIREWATCH_DATA_DIR", str(tmp_path / "data"))
    return cli()


def test_watchlist_add_replace_remove_and_list(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run("watchlist", "add", "acme", "--name", "Acme Corp", "--alias", "Acme",
                       "--ticker", "NYSE:ACME")
    assert code == 0 and "added acme" in out
    code, out, _ = run("watchlist", "add", "acme", "--alias", "Acme Corporation")
    assert code == 0 and "replaced acme" in out
    assert run("watchlist", "remove", "nvidia")[0] == 0  # a shipped entity is switched off
    code, out, _ = run("watchlist", "list", "--json")
    listed = {json.loads(line)["id"]: json.loads(line) for line in out.splitlines()}
    assert listed["acme"]["aliases"] == ["Acme Corporation"] and "nvidia" not in listed
    assert "openai" in listed  # the other defaults stay
    code, out, _ = run("taxonomy", "explain", "Acme Corporation buys Widget", "")
    assert code == 0 and json.loads(out)["entities"][0]["id"] == "acme"


def test_watchlist_refuses_a_bad_entry_and_keeps_the_file(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("watchlist", "add", "good", "--alias", "Good Co")[0] == 0
    path = tmp_path / "data" / "watchlist.yaml"
    before = path.read_text(encoding="utf-8")
    code, _, err = run("watchlist", "add", "bad", "--alias", "!!")
    assert code == 1 and "has no letters or digits" in err and str(path) in err
    assert path.read_text(encoding="utf-8") == before
    code, _, err = run("watchlist", "remove", "nobody")
    assert code == 1 and "no entity 'nobody'" in err


def test_taxonomy_check_reports_the_broken_rule(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "topics.yaml"
    bad.write_text("topics:\n  - {id: deals, rules: ['acquires NEAR/3']}\n", encoding="utf-8")
    code, _, err = run("taxonomy", "check", str(bad))
    assert code == 1 and "topic 'deals'" in err and "acquires NEAR/3" in err
    good = tmp_path / "good.yaml"
    good.write_text("topics:\n  - {id: deals, rules: ['acquires NEAR/3 stake']}\n",
                    encoding="utf-8")
    code, out, _ = run("taxonomy", "check", str(good))
    assert code == 0 and "11 topics in effect" in out


def test_eval_tag_writes_one_line_per_input_and_scores_labels(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = [
        {"id": "a", "title": "Microsoft agrees to acquire Widget Works",
         "body": "Microsoft said it agreed to acquire Widget Works for $2 billion.",
         "topics": ["acq"]},
        {"id": "b", "title": "Rain expected", "text": "Showers across the region.",
         "topics": []},
        {"id": "c", "title": "Acme quarterly results", "topics": ["acq"],
         "body": "Acme reported earnings per share of 10 cents for the quarter."},
    ]
    path = tmp_path / "in.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)
    code, out, err = run("eval", "tag", str(path), "--labels", "--label-map",
                         "acq=mergers-acquisitions")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["id"] for line in lines] == ["a", "b", "c"]
    assert "mergers-acquisitions" in lines[0]["topics"] and lines[1]["topics"] == []
    assert lines[0]["entities"] == [{"id": "microsoft", "name": "Microsoft",
                                     "type": "organization", "salience": 1.0}]
    assert {"term", "field", "snippet"} == set(lines[0]["evidence"]["entity:microsoft"][0])
    summary = json.loads(err[err.index("{"):])
    assert summary["mergers-acquisitions"] == {"labelled": 2, "precision": 1.0,
                                               "recall": 0.5, "f1": 0.6667}


def test_eval_tag_refuses_a_line_without_text(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "x", "title": "t"}\n', encoding="utf-8")
    code, _, err = run("eval", "tag", str(path))
    assert code == 1 and "in.jsonl:1: needs a 'body' or 'text' string" in err


def test_watchlist_search_and_add_a_listed_company_by_ticker_or_name(run: Run) -> None:
    code, out, _ = run("watchlist", "search", "deutsche", "--json")
    assert code == 0 and json.loads(out.splitlines()[0])["id"] == "deutsche-bank"
    code, out, _ = run("watchlist", "add", "--ticker", "NYSE:TGT")
    assert code == 0 and "added target (Target)" in out
    code, out, _ = run("watchlist", "add", "Deutsche Bank")
    assert code == 0 and "added deutsche-bank" in out
    # Meta Platforms is shipped as `meta`: the copy replaces it rather than watching it twice.
    code, out, _ = run("watchlist", "add", "--ticker", "NASDAQ:META", "--dry-run")
    assert code == 0 and "id: meta\n" in out
    code, out, _ = run("watchlist", "list", "--json")
    listed = {json.loads(line)["id"]: json.loads(line) for line in out.splitlines()}
    assert listed["target"]["ambiguous_aliases"] == ["Target"]
    assert listed["target"]["tickers"] == ["NYSE:TGT"]
    assert listed["deutsche-bank"]["aliases"] == ["Deutsche Bank"]
    code, out, _ = run("taxonomy", "explain", "Deutsche Bank cuts jobs", "")
    assert code == 0 and json.loads(out)["entities"][0]["id"] == "deutsche-bank"


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(("Deutsche",), "did you mean Deutsche Bank", id="no-exact-name"),
    pytest.param(("--ticker", "FOO:BAR"), "no listed company has the ticker", id="unknown-ticker"),
    pytest.param((), "give an ENTITY_ID", id="nothing-given"),
])
def test_watchlist_add_explains_what_it_could_not_find(run: Run, args: tuple[str, ...],
                                                       message: str) -> None:
    code, _, err = run("watchlist", "add", *args)
    assert code != 0 and message in err


def test_eval_tag_prints_what_it_discovered(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "seed.jsonl"
    path.write_text(json.dumps({
        "id": "seed", "title": "OpenAI safety team leaders resign",
        "body": "Two leaders of OpenAI's superalignment team, Jan Leike and Ilya Sutskever, "
                "resigned on Tuesday. Leike said safety had taken a back seat. OpenAI chief "
                "executive Sam Altman thanked both."}) + "\n", encoding="utf-8")
    code, out, _ = run("eval", "tag", str(path))
    assert code == 0
    discovered = json.loads(out)["discovered"]
    assert {(d["name"], d["type"]) for d in discovered} == {
        ("Jan Leike", "person"), ("Ilya Sutskever", "person")}
    assert set(discovered[0]) == {"name", "type", "mentions", "salience", "company"}
