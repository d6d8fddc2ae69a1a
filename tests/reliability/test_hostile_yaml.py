"""Hostile YAML files: an alias bomb through the real CLI, and properties of the loader.

The bomb is the one of issue 27: a 554-byte feeds file whose last value is `*a9`, nine
levels of nine aliases (9**9 = 387 million leaves once expanded). Before the bound,
`wirewatch feeds import --dry-run` grew past 5.5 GB and ran past 120 s. Here it runs as a
user runs it, in a subprocess limited to 300 MB of address space and 30 s, and must stop
with an error naming the file; the time is reported next to a valid file's, since most of
either is the CLI starting.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from wirewatch.connectors.yaml_file import MAX_ALIASES, MAX_NODES, YamlLimitError, parse_yaml

from tests.reliability.results import record
from tests.unit.connectors.test_yaml_limits import alias_bomb

STEM = Path(__file__).stem
MEMORY_LIMIT = 300 * 1024 * 1024


def _limited() -> None:  # runs in the child, before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_cli(*args: str, home: Path) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """(the finished command, its seconds, its peak RSS in MB) under the memory limit."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")},
           "WIREWATCH_DATA_DIR": str(home)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "wirewatch", *args], capture_output=True,
                            text=True, timeout=30, preexec_fn=_limited, env=env, check=False)
    seconds = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return result, seconds, max(peak, before) / 1024


def test_alias_bomb_through_the_cli_is_refused_naming_the_file(tmp_path: Path) -> None:
    bomb = tmp_path / "feeds.yaml"
    bomb.write_text(alias_bomb("feeds"), encoding="utf-8")
    valid = tmp_path / "valid.yaml"
    valid.write_text("feeds:\n  - url: https://example.com/rss\n", encoding="utf-8")

    baseline, baseline_seconds, _ = run_cli("feeds", "import", "--dry-run", str(valid),
                                            home=tmp_path)
    result, seconds, peak_mb = run_cli("feeds", "import", "--dry-run", str(bomb),
                                       home=tmp_path)
    record(STEM, {
        "fault": "yaml-alias-bomb-feeds-file",
        "what_happened": f"refused in {seconds:.2f}s (a valid file: {baseline_seconds:.2f}s), "
                         f"peak RSS at most {peak_mb:.0f} MB: {result.stderr.strip()[:200]}",
        "items_lost": 0, "duplicates": 0, "recovery_seconds": None,
        "bytes": bomb.stat().st_size, "seconds": round(seconds, 3),
        "baseline_seconds": round(baseline_seconds, 3),
    })
    assert baseline.returncode == 0, baseline.stderr
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    assert f"feeds file {bomb}" in result.stderr
    assert "expands to more than" in result.stderr
    assert "Traceback" not in result.stderr
    # What the bomb costs beyond starting the CLI: well under a second.
    assert seconds < baseline_seconds + 1.0


# Plain documents: what a user writes (no aliases); the bounded loader reads them as
# yaml.safe_load does, with and without lines.
_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.floats(
    allow_nan=False)
_DOCUMENTS = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30)


@given(_DOCUMENTS, st.booleans())
def test_plain_documents_read_as_safe_load_reads_them(document: Any, located: bool) -> None:
    text = yaml.safe_dump(document, allow_unicode=True)
    assert parse_yaml(text, located=located) == yaml.safe_load(text)


@given(levels=st.integers(1, 12), width=st.integers(1, 12))
def test_aliases_are_read_or_refused_never_expanded(levels: int, width: int) -> None:
    """Any ladder of aliases is either read (a small expansion) or refused quickly."""
    text = alias_bomb("top", levels=levels, width=width)
    ladder = [2]  # a0: a list and its string
    for _ in range(levels):
        ladder.append(1 + width * ladder[-1])
    # the top mapping, its keys (a0..an and top), each rung, and `top: *an` once more
    expanded = 1 + (levels + 2) + sum(ladder) + ladder[-1]
    refused = levels * width + 1 > MAX_ALIASES or expanded > MAX_NODES
    started = time.perf_counter()
    try:
        document = parse_yaml(text)
    except YamlLimitError:
        assert refused, (levels * width + 1, expanded)
    else:
        assert not refused, (levels * width + 1, expanded)
        assert document == yaml.safe_load(text)
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("aliases", [MAX_ALIASES, MAX_ALIASES + 1])
def test_the_alias_bound_is_exact(aliases: int) -> None:
    text = "a: &a x\nb: [" + ", ".join(["*a"] * aliases) + "]\n"
    if aliases > MAX_ALIASES:
        with pytest.raises(YamlLimitError, match=f"more than {MAX_ALIASES} aliases"):
            parse_yaml(text)
    else:
        assert parse_yaml(text)["b"] == ["x"] * aliases
