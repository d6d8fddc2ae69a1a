"""`wirewatch eval dedupe`: the stage's engine over a file, with quality against labels."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from tests.support.processes import wirewatch_env
from tests.unit.streams.test_dedupe_engine import COPIES, EARNINGS_A, EARNINGS_B, WIRE


def run_eval(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wirewatch", "eval", "dedupe", *args],
                          env=wirewatch_env(), capture_output=True, text=True, timeout=120)


def test_labelled_gzip_file_gets_stories_and_a_quality_summary(tmp_path: Path):
    rows = [{"id": "wire", "text": WIRE, "cluster": "deal"},
            {"id": "e-a", "title": "Northwind results", "text": EARNINGS_A, "cluster": "a"},
            {"id": "e-b", "text": EARNINGS_B, "cluster": "b", "url": "https://b.example/x"}]
    rows += [{"id": f"copy-{k}", "text": v, "cluster": "deal", "ops": [k]}
             for k, v in COPIES.items()]
    path = tmp_path / "docs.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(json.dumps(r) for r in rows) + "\n\n")
    result = run_eval(str(path), "--labels")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == [r["id"] for r in rows]  # file order
    by_id = {line["id"]: line for line in lines}
    assert by_id["wire"] == {"id": "wire", "story_id": "wire", "duplicate_of": None}
    assert all(by_id[f"copy-{k}"]["duplicate_of"] == "wire" for k in COPIES)
    assert by_id["e-a"]["story_id"] != by_id["e-b"]["story_id"]
    summary = json.loads(result.stderr[result.stderr.index("{"):])
    assert summary["ari"] == 1.0 and summary["pairwise_precision"] == 1.0
    assert summary["recall_by_op"]["excerpt-read-more"] == {"copies": 1, "recall": 1.0}


def test_bad_lines_are_reported_with_their_line_number(tmp_path: Path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "text": "fine"}\n{not json}\n')
    result = run_eval(str(path))
    assert result.returncode != 0
    assert "bad.jsonl:2: not JSON" in result.stderr and "Traceback" not in result.stderr
    missing = tmp_path / "missing.jsonl"
    missing.write_text('{"id": "a", "text": "x"}\n')
    unlabelled = run_eval(str(missing), "--labels")
    assert unlabelled.returncode != 0 and "needs a 'cluster'" in unlabelled.stderr
