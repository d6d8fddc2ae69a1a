"""The README and docs/: every link stays inside the repository and lands somewhere, and
every setting is documented with its default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from wirewatch.streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces
    to hyphens."""
    headings = re.findall(r"^#+ (.+)$", FENCE.sub("", page.read_text()), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_stay_inside_the_repository_and_resolve(page: Path) -> None:
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        assert not re.match(r"[a-z]+:", target), f"{page.name}: {target} leaves the repository"
        path, _, anchor = target.partition("#")
        landing = (page.parent / path).resolve() if path else page
        assert landing.is_relative_to(ROOT) and landing.exists(), f"{page.name}: {target}"
        if anchor and landing.suffix == ".md":
            assert anchor in anchors(landing), f"{page.name}: no heading for #{anchor}"


def test_every_setting_is_in_the_configuration_table() -> None:
    table = (ROOT / "README.md").read_text()
    missing = []
    for name in Settings.model_fields:
        variable = f"WIREWATCH_{name.upper()}"
        # Related settings share a row: `WIREWATCH_POLL_MIN_SECONDS` / `_MAX_SECONDS`.
        suffix = "_" + variable.rsplit("_", 2)[-2] + "_" + variable.rsplit("_", 1)[-1]
        if f"`{variable}`" not in table and f"`{suffix}`" not in table:
            missing.append(variable)
    assert missing == []
