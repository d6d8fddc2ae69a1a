"""One import namespace: wirewatch installs as `wirewatch.*` and nothing else.

The repository keeps streams/, connectors/ and alerts/ at its top level and pyproject.toml
maps them into the namespace; these tests keep the mapping complete and every reference
to the packages on their installed names.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

BARE = {"streams", "connectors", "alerts"}
SETUPTOOLS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
# Code that runs: the packages, tests and benchmarks (not virtualenvs or build output).
CODE_DIRS = ("wirewatch", "streams", "connectors", "alerts", "tests", "bench")


def package_folders() -> dict[str, Path]:
    """Every package the mapping implies: its import name and its folder."""
    found = {}
    for name, folder in SETUPTOOLS["package-dir"].items():
        root = REPO / folder
        for init in sorted(root.rglob("__init__.py")):
            relative = init.parent.relative_to(root)
            found[".".join((name, *relative.parts))] = init.parent
    return found


def python_files() -> list[Path]:
    return sorted(path for folder in CODE_DIRS for path in (REPO / folder).rglob("*.py")
                  if "__pycache__" not in path.parts)


def test_every_package_folder_is_listed_and_nothing_else() -> None:
    implied = set(package_folders())
    listed = set(SETUPTOOLS["packages"])
    assert listed == implied, (f"missing from pyproject's packages: {sorted(implied - listed)}; "
                               f"listed but not a package: {sorted(listed - implied)}")
    assert {name.split(".")[0] for name in listed} == {"wirewatch"}


def test_the_three_folders_install_inside_the_namespace() -> None:
    assert SETUPTOOLS["package-dir"] == {"wirewatch": "wirewatch", "wirewatch.alerts": "alerts",
                                         "wirewatch.connectors": "connectors",
                                         "wirewatch.streams": "streams"}


def _bare_imports(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] in BARE]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in BARE:
                found.append((node.lineno, node.module))
    return found


# Python source inside strings (subprocess snippets), `-m streams`, and dotted module paths
# such as monkeypatch targets.
_IN_STRINGS = re.compile(r"(?:^|[\s;(])(?:from|import) (?:streams|connectors|alerts)\b"
                         r"|^(?:streams|connectors|alerts)\.[a-z_]+(?:\.[a-z_]+)*$")


def test_nothing_imports_the_bare_package_names() -> None:
    """`import streams` would load a second copy of a module beside wirewatch.streams (the
    repository root is on sys.path in tests), and fails for every installed user."""
    offenders = []
    for path in python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        offenders += [f"{path.relative_to(REPO)}:{line}: import {name}"
                      for line, name in _bare_imports(tree)]
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if _IN_STRINGS.search(node.value):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: "
                                     f"{node.value[:60]!r}")
            if isinstance(node, ast.List) and len(node.elts) >= 2:
                words = [e.value for e in node.elts if isinstance(e, ast.Constant)]
                for flag, module in zip(words, words[1:], strict=False):
                    if flag == "-m" and module in BARE:
                        offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: -m {module}")
    assert not offenders, "\n".join(offenders)


def test_the_console_script_and_python_m_name_the_namespace() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"wirewatch": "wirewatch.cli:main"}
    assert (REPO / "wirewatch" / "__main__.py").is_file()
    result = subprocess.run([sys.executable, "-m", "wirewatch", "--version"],
                            capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("wirewatch ")


@pytest.mark.slow
def test_a_built_wheel_holds_only_the_namespace(tmp_path: Path) -> None:
    """Build the wheel as `pip install .` does and install it into a fresh virtualenv:
    only `wirewatch/` (with the native parts inside) and its dist-info, and the bare names
    are gone."""
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir",
         str(tmp_path / "dist"), str(REPO)], capture_output=True, text=True, check=False,
        timeout=900)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("wirewatch-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    (dist_info,) = tops - {"wirewatch"}
    assert dist_info.startswith("wirewatch-") and dist_info.endswith(".dist-info")
    for package in SETUPTOOLS["packages"]:
        assert f"{package.replace('.', '/')}/__init__.py" in names, package
    require_native = os.environ.get("WIREWATCH_REQUIRE_NATIVE") == "1"
    if require_native:
        assert any(re.fullmatch(r"wirewatch/streams/_native\.[^/]+\.(so|pyd)", n) for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    str(wheel)], check=True, timeout=300)
    # Away from the repository, so its folders are not on sys.path.
    for bare in sorted(BARE):
        gone = subprocess.run([str(python), "-c", f"import {bare}"], capture_output=True,
                              text=True, cwd=tmp_path, check=False)
        assert gone.returncode != 0 and "ModuleNotFoundError" in gone.stderr, bare
    check = "import wirewatch; print(wirewatch.__version__)"
    if require_native:
        check += "; import wirewatch.streams._native"
    found = subprocess.run([str(python), "-c", check], capture_output=True, text=True,
                           cwd=tmp_path, check=False)
    assert found.returncode == 0, found.stderr
    from importlib.metadata import version

    assert found.stdout.strip() == version("wirewatch")
    assert (python.parent / "wirewatch").exists()  # the console script
