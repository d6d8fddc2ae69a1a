"""wirewatch.connectors.yaml_file: alias, expansion and size bounds; lines of entries.

Both loaders are tested: libyaml's parser (the one in use when PyYAML has it) and PyYAML's
own, which wirewatch falls back on; each composes in Python, where aliases are counted.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from wirewatch.alerts.channels import load_channels
from wirewatch.alerts.errors import ChannelError, SubscriptionError
from wirewatch.alerts.subscriptions import load_subscriptions
from wirewatch.connectors import yaml_file
from wirewatch.connectors.errors import FeedFileError
from wirewatch.connectors.feeds_file import load_feeds
from wirewatch.connectors.yaml_file import (
    MAX_ALIASES,
    LocatedDict,
    LocatedList,
    line_of,
    parse_yaml,
    read_yaml,
)
from wirewatch.streams.tagging import TaxonomyError, load_entities, load_topics

LOADERS = [pytest.param(yaml_file._PythonLoader, id="pyyaml-parser")]
if yaml_file.HAS_LIBYAML:
    LOADERS.insert(0, pytest.param(yaml_file._CLoader, id="libyaml-parser"))


def alias_bomb(top_key: str = "feeds", levels: int = 9, width: int = 9) -> str:
    """The issue's file: nine levels of nine aliases, the last value `*a9` (9**9 leaves)."""
    lines = ['a0: &a0 ["lol"]']
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    lines.append(f"{top_key}: *a{levels}")
    return "\n".join(lines) + "\n"


def merge_bomb(levels: int = 9) -> str:
    """The same blow-up through merge keys: each mapping merges the one before nine times."""
    lines = ["m0: &m0 {k0: v}"]
    for level in range(1, levels + 1):
        merged = ", ".join([f"*m{level - 1}"] * 9)
        lines.append(f"m{level}: &m{level} {{<<: [{merged}], k{level}: v}}")
    return "\n".join(lines) + "\n"


class Refused(Exception):
    pass


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize(("text", "message"), [
    pytest.param(alias_bomb(), "expands to more than", id="nine-levels-of-nine-aliases"),
    pytest.param(merge_bomb(), "expands to more than", id="merge-key-bomb"),
    pytest.param("a: &a x\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n",
                 f"more than {MAX_ALIASES} aliases", id="too-many-aliases"),
])
def test_alias_bombs_are_refused_fast_and_small(loader: type[Any], text: str,
                                                message: str) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(yaml.YAMLError, match=message):
            parse_yaml(text, loader_class=loader)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seconds < 1.0
    assert peak < 5 * 1024 * 1024


@pytest.mark.parametrize("loader", LOADERS)
def test_a_few_aliases_are_still_fine(loader: type[Any]) -> None:
    text = "base: &base {mode: daily, at: '08:00'}\none: *base\ntwo: {<<: *base, at: '09:00'}\n"
    assert parse_yaml(text, loader_class=loader) == yaml.safe_load(text)


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("located", [pytest.param(False, id="plain"),
                                     pytest.param(True, id="located")])
def test_the_shipped_taxonomy_reads_as_safe_load_reads_it(loader: type[Any],
                                                          located: bool) -> None:
    text = (Path(yaml_file.__file__).parents[1] / "streams" / "defaults"
            / "taxonomy.yaml").read_text(encoding="utf-8")
    assert parse_yaml(text, located=located, loader_class=loader) == yaml.safe_load(text)


@pytest.mark.parametrize("loader", LOADERS)
def test_unsafe_tags_are_still_refused(loader: type[Any]) -> None:
    with pytest.raises(yaml.constructor.ConstructorError):
        parse_yaml("x: !!python/object/apply:os.system ['true']\n", loader_class=loader)


def test_a_file_over_the_size_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("feeds: []\n" + "# padding\n" * 200, encoding="utf-8")
    with pytest.raises(Refused, match=rf"feeds file {path} is larger than 1,000 bytes"):
        read_yaml(path, Refused, "feeds file", max_bytes=1000)


@pytest.mark.parametrize("loader", LOADERS)
def test_deep_nesting_is_a_clear_error(tmp_path: Path, loader: type[Any],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yaml_file, "LOADER", loader)
    path = tmp_path / "deep.yaml"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    # libyaml stops at 1,000 levels itself; PyYAML's parser recurses until Python stops it
    with pytest.raises(Refused, match=rf"(?s){path} (is nested too deeply|is not valid YAML: "
                                      r".*maximum nesting depth)"):
        read_yaml(path, Refused)


def test_syntax_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("feeds:\n  - ok\n  - [unclosed\n", encoding="utf-8")
    with pytest.raises(Refused, match=rf"(?s){path} is not valid YAML: .*in {path}, "
                                      r"line 3, column 5"):
        read_yaml(path, Refused)


def test_located_documents_know_their_lines() -> None:
    document = parse_yaml("feeds:\n  - https://a.example/\n  - url: https://b.example/\n"
                          "    name: B\n", located=True)
    assert isinstance(document, LocatedDict) and isinstance(document["feeds"], LocatedList)
    assert document["feeds"].lines == [2, 3]
    entry = document["feeds"][1]
    assert (line_of(entry), line_of(entry, "name"), line_of(entry, "absent")) == (3, 4, 3)
    assert line_of({"plain": "dict"}) is None
    assert document == {"feeds": ["https://a.example/", {"url": "https://b.example/",
                                                         "name": "B"}]}


def _taxonomy(path: Path) -> Any:
    return load_topics([path])


def _watchlist(path: Path) -> Any:
    return load_entities([path])


@pytest.mark.parametrize(("load", "top_key", "error"), [
    pytest.param(load_feeds, "feeds", FeedFileError, id="feeds"),
    pytest.param(load_subscriptions, "subscriptions", SubscriptionError, id="subscriptions"),
    pytest.param(load_channels, "channels", ChannelError, id="channels"),
    pytest.param(_taxonomy, "topics", TaxonomyError, id="taxonomy"),
    pytest.param(_watchlist, "entities", TaxonomyError, id="watchlist"),
])
def test_every_yaml_file_refuses_the_bomb_naming_the_file(
        tmp_path: Path, load: Callable[[Path], Any], top_key: str,
        error: type[Exception]) -> None:
    path = tmp_path / f"{top_key}.yaml"
    path.write_text(alias_bomb(top_key), encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(error, match=rf"{path}.*expands to more than"):
        load(path)
    assert time.perf_counter() - started < 1.0
