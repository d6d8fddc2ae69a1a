"""`wirewatch status`: the verdict agrees with the exit code, --strict counts warnings, and
the snapshot prints as tables with right-aligned numbers and no escape codes when piped."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from click.testing import CliRunner

from tests.unit.streams.test_ops import snapshot
from wirewatch.cli import status as status_module
from wirewatch.cli.status import status

WARNING = {"severity": "warning", "what": "1 record in the dead-letter queue"}
CRITICAL = {"severity": "critical", "what": "Redis unreachable"}


def document(*problems: dict[str, str]) -> dict[str, Any]:
    return {"healthy": not any(p["severity"] == "critical" for p in problems),
            "problems": list(problems), "snapshot": snapshot(taken_at=time.time()).to_json()}


def invoke(served: dict[str, Any], *args: str,
           monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.setattr(status_module, "fetch_status", lambda url, timeout: served)
    result = CliRunner().invoke(status, ["--url", "http://worker.invalid/", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(("problems", "strict", "code", "verdict"), [
    ((), False, 0, "wirewatch is HEALTHY"),
    ((), True, 0, "wirewatch is HEALTHY"),
    ((WARNING,), False, 0, "wirewatch is HEALTHY"),
    ((WARNING,), True, 1, "wirewatch is UNHEALTHY (--strict: warnings count)"),
    ((CRITICAL, WARNING), False, 1, "wirewatch is UNHEALTHY"),
    ((CRITICAL,), True, 1, "wirewatch is UNHEALTHY"),
], ids=["healthy", "healthy-strict", "warning", "warning-strict", "critical",
        "critical-strict"])
def test_the_verdict_matches_the_exit_code(problems: tuple[dict[str, str], ...], strict: bool,
                                           code: int, verdict: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    exit_code, output = invoke(document(*problems), *(["--strict"] if strict else []),
                               monkeypatch=monkeypatch)
    first, *rest = output.splitlines()
    assert (exit_code, first) == (code, verdict)
    for problem in problems:  # the reasons follow the verdict
        assert f"  {problem['severity']}: {problem['what']}" in rest
    as_json = invoke(document(*problems), "--json", *(["--strict"] if strict else []),
                     monkeypatch=monkeypatch)
    assert as_json[0] == code and json.loads(as_json[1])["healthy"] is (code == 0)


def test_the_snapshot_prints_as_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    _, output = invoke(document(WARNING), monkeypatch=monkeypatch)
    lines = output.splitlines()
    assert "\x1b" not in output
    header = next(line for line in lines if line.split()[:2] == ["topic", "partition"])
    rows = [line for line in lines if line.startswith("news.raw.v1 ") and len(line.split()) == 5]
    assert [row.split() for row in rows] == [["news.raw.v1", "0", "120", "100", "20"],
                                             ["news.raw.v1", "1", "7", "-", "7"]]
    end = header.index("high water") + len("high water")
    assert rows[0][:end].endswith(" 120") and rows[1][:end].endswith(" 7")  # right-aligned
    assert "consumer lag: 27" in lines
    assert any(line.split() == ["normalise", "100", "100", "2.5", "0"] for line in lines)
