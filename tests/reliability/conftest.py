"""The reliability tier: property-based fuzzing (hypothesis) and hostile content.

Hypothesis runs under the "reliability" profile registered here: 200 examples per test and
a 1 s deadline per example, which keeps the whole tier well under a minute on 2 cores.
`HYPOTHESIS_PROFILE=long pytest tests/reliability` runs 5,000 examples per test without a
deadline for a longer local search; `HYPOTHESIS_PROFILE=ci` is derandomised (the same
examples on every run). Failing examples are kept in `.hypothesis/` at the repository root
(ignored by git) and replayed first on the next run.

Timed tests report what they measured through the `timings` fixture: every measurement is
printed in the terminal summary and written to `reliability-timings.json` in pytest's base
temporary directory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from tests.conftest import REPO

_DATABASE = DirectoryBasedExampleDatabase(str(REPO / ".hypothesis" / "examples"))
settings.register_profile(
    "reliability", max_examples=200, deadline=timedelta(seconds=1), database=_DATABASE,
    print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", settings.get_profile("reliability"), derandomize=True,
                          database=None)
settings.register_profile("long", settings.get_profile("reliability"), max_examples=5000,
                          deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "reliability"))

_MEASURED: list[dict[str, Any]] = []
_ARTEFACT: list[Path] = []


@pytest.fixture(scope="session")
def timings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., None]]:
    """record(test, case, seconds, budget, **details): one timed measurement."""
    path = tmp_path_factory.getbasetemp() / "reliability-timings.json"

    def record(test: str, case: str, seconds: float | None, budget: float,
               **details: Any) -> None:
        _MEASURED.append({"test": test, "case": case, "seconds": seconds, "budget": budget,
                          **details})
        path.write_text(json.dumps(_MEASURED, indent=2), encoding="utf-8")

    _ARTEFACT[:] = [path]
    yield record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _MEASURED:
        return
    terminalreporter.section("reliability timings (seconds, against their budget)")
    for row in _MEASURED:
        seconds = "killed" if row["seconds"] is None else f"{row['seconds']:.3f}"
        terminalreporter.write_line(
            f"{row['test']:<16} {row['case']:<46} {seconds:>7} / {row['budget']:.3f}")
    if _ARTEFACT:
        terminalreporter.write_line(f"written to {_ARTEFACT[0]}")
