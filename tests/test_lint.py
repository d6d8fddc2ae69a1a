"""The code base passes ruff (pyflakes, pycodestyle, isort, bugbear, bandit rules)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_ruff_finds_nothing():
    # ruff is a test dependency; run it from this interpreter's environment, PATH or not.
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(REPO)],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
