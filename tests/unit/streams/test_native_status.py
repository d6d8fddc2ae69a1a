"""Operators can see whether the native parts were built, and a slow install says so."""

from __future__ import annotations

import logging

import pytest
from wirewatch.streams import native

from tests.support.cli import cli


def test_config_says_which_native_parts_run() -> None:
    code, out, _ = cli()("config")
    assert code == 0
    assert out.strip().splitlines()[-1] == f"# {native.describe()}"


def test_an_install_without_them_warns_and_names_what_is_missing(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(native, "NATIVE_SCAN", False)
    monkeypatch.setattr(native, "NATIVE_SKETCH", True)  # so only the scan is missing
    log = logging.getLogger("test.native")
    with caplog.at_level(logging.WARNING, logger="test.native"):
        native.warn_if_missing(log)
    assert "without its native parts" in caplog.text and "missing: tagger_scan" in caplog.text
    assert "dedupe_sketch" not in caplog.text.split("missing:")[1]


def test_a_complete_install_is_quiet(monkeypatch: pytest.MonkeyPatch,
                                     caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(native, "NATIVE_SCAN", True)
    monkeypatch.setattr(native, "NATIVE_SKETCH", True)
    log = logging.getLogger("test.native")
    with caplog.at_level(logging.WARNING, logger="test.native"):
        native.warn_if_missing(log)
    assert caplog.text == ""
    assert native.describe() == "native parts built: tagger_scan, dedupe_sketch"
