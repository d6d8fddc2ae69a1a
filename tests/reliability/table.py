"""Print the reliability results (test-artifacts/reliability/*.json) as a Markdown table.

Usage, after the suite ran: python -m tests.reliability.table
"""

from __future__ import annotations

import json
import sys

from tests.reliability.results import ARTIFACTS


def rows() -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    for path in sorted(ARTIFACTS.glob("*.json")):
        found += [dict(row, test=path.stem) for row in json.loads(path.read_text("utf-8"))]
    return found


def table(results: list[dict[str, object]]) -> str:
    lines = ["| fault | what happened | items lost | duplicates | recovery (s) | test |",
             "| --- | --- | --- | --- | --- | --- |"]
    for row in results:
        recovery = row.get("recovery_seconds")
        cells = [row["fault"], row["what_happened"], row["items_lost"], row["duplicates"],
                 "-" if recovery is None else recovery, row["test"]]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    results = rows()
    if not results:
        sys.exit(f"no results under {ARTIFACTS}: run the reliability tests first")
    print(table(results))


if __name__ == "__main__":
    main()
