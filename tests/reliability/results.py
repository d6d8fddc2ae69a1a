"""Result rows of the end-to-end reliability tests: one JSON file per test file.

`record("test_hostile_feeds", {"fault": "gzip-bomb", ...})` writes
`test-artifacts/reliability/test_hostile_feeds.json` under the repository root (ignored by
git): a list of rows, one per fault. A row recorded again replaces the row with the same
`fault`, so a rerun updates the file instead of growing it. Every row says what happened
(`what_happened`), how many items were lost and duplicated, and how long recovery took
(`recovery_seconds`, null when it does not apply), plus whatever the test measured.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from tests.conftest import REPO

ARTIFACTS = REPO / "test-artifacts" / "reliability"
REQUIRED = {"fault": str, "what_happened": str, "items_lost": int, "duplicates": int}


def record(stem: str, row: dict[str, Any]) -> None:
    """Merge `row` into `<stem>.json` by its `fault` (replacing an earlier row of that fault)."""
    for key, kind in REQUIRED.items():
        if not isinstance(row.get(key), kind):
            raise ValueError(f"result row needs {key!r} as {kind.__name__}: {row!r}")
    recovery = row.get("recovery_seconds", ...)
    if recovery is not None and not isinstance(recovery, int | float):
        raise ValueError(f"result row needs 'recovery_seconds' as a number or None: {row!r}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{stem}.json"
    # Two pytest processes may record at once: one writer at a time, whole files only.
    with open(ARTIFACTS / f".{stem}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rows = _read(path)
        merged = [row if old.get("fault") == row["fault"] else old for old in rows]
        if not any(old.get("fault") == row["fault"] for old in rows):
            merged.append(row)
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(merged, indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
        os.replace(temporary, path)


def _read(path: Path) -> list[dict[str, Any]]:
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []  # absent or torn by an older writer: start again
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
