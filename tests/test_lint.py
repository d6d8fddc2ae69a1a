"""The code base passes ruff (pyflakes, pycodestyle, isort, bugbear, bandit rules)."""

from __future__ import annotations

import shutil
import subprocess

from tests.conftest import REPO


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff")
    assert ruff, "ruff is a test dependency: pip install -e '.[test]'"
    result = subprocess.run([ruff, "check", "--no-cache", str(REPO)], capture_output=True,
                            text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout[-5000:]
