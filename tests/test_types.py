"""The code base passes mypy (strict, pyproject.toml's settings) under its installed names.

mypy knows nothing of setuptools' package-dir mapping, so the test lays the namespace out
as the wheel does (wirewatch/streams, wirewatch/connectors, ...) with symbolic links to the
repository's folders, and checks that.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO


def namespace_tree(root: Path) -> Path:
    """wirewatch/ under `root` as the wheel holds it, made of links to the repository."""
    folders = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"]
    top = root / "wirewatch"
    top.mkdir(parents=True)
    for entry in (REPO / folders["wirewatch"]).iterdir():
        if entry.name != "__pycache__":
            (top / entry.name).symlink_to(entry)
    for package, folder in folders.items():
        if package != "wirewatch":
            (top / package.split(".", 1)[1]).symlink_to(REPO / folder)
    return root


@pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
def test_mypy_strict_finds_nothing(tmp_path: Path) -> None:
    tree = namespace_tree(tmp_path / "tree")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "cache"), "-p", "wirewatch"],
        capture_output=True, text=True, cwd=tree, env={**os.environ, "MYPYPATH": str(tree)},
        timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Success" in result.stdout
