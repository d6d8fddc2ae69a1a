"""The image's native build is reproducible: exactly the Rust of deploy/rust-toolchain.toml,
the crates Cargo.lock names vendored in a stage of their own, and cargo offline and locked
in the build stage. Read from the Dockerfile (no Docker engine here); where cargo and its
registry cache are on the machine, the vendoring and the offline fetch are also run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.unit.test_deploy_files import ROOT, dockerfile_stages, stage_named

NATIVE = ROOT / "native"


def toolchain() -> dict[str, str]:
    pinned: dict[str, str] = tomllib.loads((ROOT / "deploy" / "rust-toolchain.toml").read_text())[
        "toolchain"]
    return pinned


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def dockerfile_args() -> dict[str, str]:
    preamble = dockerfile_stages()[0]
    return dict(rest.split("=", 1) for keyword, rest in preamble if keyword == "ARG")


def runs(stage: str) -> str:
    return " ".join(rest for keyword, rest in stage_named(stage) if keyword == "RUN")


def copies(stage: str) -> list[list[str]]:
    return [rest.split() for keyword, rest in stage_named(stage) if keyword == "COPY"]


def envs(stage: str) -> str:
    return " ".join(rest for keyword, rest in stage_named(stage) if keyword == "ENV")


def test_the_toolchain_is_one_exact_version_the_dockerfile_installs() -> None:
    pinned = toolchain()
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned["channel"]), "a release, not stable/nightly"
    # Components would make rustup download more on first use of the file.
    assert set(pinned) <= {"channel", "profile"} and pinned.get("profile") == "minimal"
    assert dockerfile_args()["RUST_VERSION"] == pinned["channel"]
    installs = runs("toolchain")
    assert '--default-toolchain "${RUST_VERSION}"' in installs
    assert "--profile minimal" in installs
    assert 'grep -q "^rustc ${RUST_VERSION} "' in installs  # what got installed is checked
    # A --build-arg that disagrees with the file fails the build.
    assert 'grep -qx "channel = \\"${RUST_VERSION}\\"" deploy/rust-toolchain.toml' in runs(
        "build")


def test_the_pinned_rust_builds_the_crate_and_reads_its_lock_file() -> None:
    pinned = version(toolchain()["channel"])
    manifest = tomllib.loads((NATIVE / "Cargo.toml").read_text())
    assert pinned >= version(manifest["package"]["rust-version"])
    lock = tomllib.loads((NATIVE / "Cargo.lock").read_text())
    if lock.get("version", 1) >= 4:  # lock file format 4: cargo 1.78 and newer
        assert pinned >= (1, 78)
    names = {package["name"] for package in lock["package"]}
    assert set(manifest["dependencies"]) <= names


def test_crates_are_vendored_in_their_own_stage_from_the_lock_file() -> None:
    # Only the manifest and the lock: the vendor layer is rebuilt only when they change.
    (copied,) = copies("vendor")
    assert copied[:-1] == ["native/Cargo.toml", "native/Cargo.lock"]
    for source in copied[:-1]:
        assert (ROOT / source).is_file(), source
    vendoring = runs("vendor")
    assert "cargo vendor --locked --manifest-path native/Cargo.toml /vendor/crates" in vendoring
    assert "> /vendor/config.toml" in vendoring  # cargo prints the source replacement


def test_the_build_stage_compiles_offline_and_locked_from_the_vendored_crates() -> None:
    from_vendor = {(c[1], c[2]) for c in copies("build") if c[0] == "--from=vendor"}
    # CARGO_HOME is rustup's default for root, /root/.cargo (its bin is on PATH).
    assert "/root/.cargo/bin" in envs("toolchain")
    assert from_vendor == {("/vendor/crates", "/vendor/crates"),
                           ("/vendor/config.toml", "/root/.cargo/config.toml")}
    assert "CARGO_NET_OFFLINE=true" in envs("build")
    build = runs("build")
    locked = "cargo fetch --locked --offline --manifest-path native/Cargo.toml"
    assert locked in build and build.index(locked) < build.index("pip wheel")
    # The runtime stage proves the native scan made it into the wheel (it is optional).
    assert "import wirewatch.streams._native" in runs("runtime")


def test_the_vendored_crates_are_not_committed() -> None:
    """19 MB of sources for a 3-file crate: vendored at build time, see deploy/Dockerfile."""
    assert not (NATIVE / "vendor").exists()
    assert not (NATIVE / ".cargo").exists(), "a local source replacement would break dev builds"


def test_vendoring_and_an_offline_locked_fetch_work_with_this_machines_cargo(
        tmp_path: Path) -> None:
    """The vendor and build stages' cargo steps, run here against the local registry cache."""
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo not installed")
    crate = tmp_path / "native"
    crate.mkdir()
    for name in ("Cargo.toml", "Cargo.lock"):
        shutil.copy(NATIVE / name, crate / name)
    (crate / "src").mkdir()
    (crate / "src" / "lib.rs").touch()
    vendor = tmp_path / "vendor"
    vendored = subprocess.run(
        [cargo, "vendor", "--locked", "--offline", "--manifest-path", str(crate / "Cargo.toml"),
         str(vendor / "crates")], capture_output=True, text=True, timeout=120, check=False)
    if vendored.returncode != 0:
        assert "needs to be updated" not in vendored.stderr, vendored.stderr  # a stale lock
        pytest.skip(f"crates not in the local registry cache: {vendored.stderr[-300:]}")
    # A CARGO_HOME of its own: nothing but the printed source replacement, no registry cache.
    home = tmp_path / "cargo-home"
    home.mkdir()
    (home / "config.toml").write_text(vendored.stdout)
    fetched = subprocess.run(
        [cargo, "fetch", "--locked", "--offline", "--manifest-path", str(crate / "Cargo.toml")],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
        env={**os.environ, "CARGO_HOME": str(home), "CARGO_NET_OFFLINE": "true"})
    assert fetched.returncode == 0, fetched.stderr
    assert (vendor / "crates" / "pyo3" / "Cargo.toml").is_file()
