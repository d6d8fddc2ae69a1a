"""Which of wirewatch's native parts (native/, Rust) this install has, for operators."""

from __future__ import annotations

import logging

from wirewatch.streams.dedupe.sketch import NATIVE_SKETCH
from wirewatch.streams.tagging.matcher import NATIVE_SCAN

MISSING = ("without its native parts (no Rust toolchain at install): tagging and dedupe "
           "sketches run in pure Python, with the same results, more slowly; see "
           "native/README.md")


def parts() -> dict[str, bool]:
    """Each native part and whether it is built (else its Python version runs)."""
    return {"tagger_scan": NATIVE_SCAN, "dedupe_sketch": NATIVE_SKETCH}


def describe() -> str:
    """One line: what is native, or what runs in pure Python instead."""
    built = parts()
    if all(built.values()):
        return "native parts built: " + ", ".join(built)
    return "installed " + MISSING + " (missing: " + ", ".join(
        name for name, ok in built.items() if not ok) + ")"


def warn_if_missing(log: logging.Logger) -> None:
    """A stream worker or replay on the slow path says so once, at start."""
    if not all(parts().values()):
        log.warning("wirewatch was %s", describe())
