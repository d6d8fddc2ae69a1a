"""wirewatch.connectors.yaml_file: alias, expansion and size bounds; where errors are.

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
    with pytest.raises(Refused, match=rf"(?s)^{path}:4:1: {path} is not valid YAML: "
                                      r".*\n  line 3, column 5"):
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


def place(text: str, needle: str) -> str:
    """"line:column" (1-based, in characters) of the last `needle` in `text`."""
    index = text.rindex(needle)
    return f"{text.count(chr(10), 0, index) + 1}:{index - text.rfind(chr(10), 0, index)}"


def _refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, loader: type[Any],
             load: Callable[[Path], Any], error: type[Exception],
             content: str | bytes) -> tuple[str, str]:
    """"file:" and the message `load` refuses `content` with, read through `loader`."""
    monkeypatch.setattr(yaml_file, "LOADER", loader)
    path = tmp_path / "file.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    with pytest.raises(error) as excinfo:
        load(path)
    return f"{path}:", str(excinfo.value)


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize(("text", "needle", "message"), [
    pytest.param("feeds:\n  - url: https://a.example/\n    nmae: A\n", "nmae",
                 "feeds[0]: unknown key 'nmae' (did you mean 'name'?", id="unknown-key"),
    pytest.param("feeds:\n  - {name: Ünïcode—✓, url: 'https://a.example/', nmae: x}\n",
                 "nmae", "feeds[0]: unknown key 'nmae'", id="columns-count-characters"),
    pytest.param("feeds:\n  - url: https://a.example/\n    interval_seconds: \"ten\"\n",
                 '"ten"', "feeds[0]: interval_seconds must be a positive number, got 'ten'",
                 id="bad-value"),
    pytest.param("feeds:\n  - url: https://a.example/\n    interval_seconds:\n      -5\n",
                 "-5", "feeds[0]: interval_seconds must be a positive number, got -5",
                 id="value-below-its-key"),
    pytest.param("feeds:\n  - url: ftp://a.example/\n", "ftp://",
                 "feeds[0]: feed url must be http(s)", id="bad-url-value"),
    pytest.param("feeds:\n  - https://a.example/\n  - ftp://b.example/\n", "ftp://",
                 "feeds[1]: feed url must be http(s)", id="bad-url-entry"),
    pytest.param("feeds:\n  - url: 42\n", "42", "feeds[0]: each feed needs a 'url' string",
                 id="url-not-a-string"),
    pytest.param("feeds:\n  - https://a.example/\n  - name: B\n", "name: B",
                 "feeds[1]: each feed needs a 'url' string", id="entry-without-url"),
])
def test_feeds_file_errors_point_at_the_key_or_value(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, loader: type[Any], text: str,
        needle: str, message: str) -> None:
    file, refused = _refused(monkeypatch, tmp_path, loader, load_feeds, FeedFileError, text)
    assert refused.startswith(f"{file}{place(text, needle)}: {message}")


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize(("text", "needle", "message"), [
    pytest.param("subscriptions:\n  - name: A\n    query: topic:a\n    chanels: [console]\n",
                 "chanels", "subscriptions[0]: unknown key 'chanels'", id="unknown-key"),
    pytest.param("subscriptions:\n  - name: A\n    query: topic:a\n    schedule:\n"
                 "      mode: daily\n      timezon: UTC\n", "timezon",
                 "subscriptions[0].schedule: unknown key 'timezon'", id="unknown-schedule-key"),
    pytest.param("subscriptions:\n  - {id: 42, name: A, query: 'topic:a'}\n", "42",
                 "subscriptions[0]: id must be a string", id="id-not-a-string"),
    pytest.param("subscriptions:\n  - {name: A, query: 'topic:a', channels: [1]}\n", "[1]",
                 "subscriptions[0]: channels must be a list of strings", id="bad-channels"),
    pytest.param("subscriptions:\n  - name: A\n    query: \"topic:\"\n", '"topic:"',
                 "subscriptions[0]: subscription 'A': unexpected 'topic:'", id="bad-query"),
    pytest.param("subscriptions:\n  - name: A\n    query: topic:a\n    schedule:\n"
                 "      mode: weekly\n", "weekly",
                 "subscriptions[0]: schedule: mode must be one of", id="bad-schedule-mode"),
    pytest.param("subscriptions:\n  - name: A\n    query: topic:a\n    schedule:\n"
                 "      timezone: Mars/Base\n", "Mars/Base",
                 "subscriptions[0]: schedule: unknown time zone 'Mars/Base'",
                 id="bad-time-zone"),
    pytest.param("subscriptions:\n  - name: A\n    query: topic:a\n    min_salience: high\n",
                 "high", "subscriptions[0]: could not convert string to float: 'high'",
                 id="not-a-number"),
    pytest.param("subscriptions:\n  - name: A\n    query: topic:a\n    per: month\n", "month",
                 "subscriptions[0]: subscription 'A': per must be one of", id="bad-per"),
    pytest.param("subscriptions:\n  - name: A\n    query: topic:a\n  - name: B\n", "name: B",
                 "subscriptions[1]: missing or non-string ['query']", id="entry-error"),
    pytest.param("subscriptions:\n  - {id: same, name: one, query: 'topic:a'}\n"
                 "  - {id: same, name: two, query: 'topic:b'}\n", "same",
                 "duplicate subscription ids ['same']", id="duplicate-id"),
])
def test_subscriptions_file_errors_point_at_the_key_or_value(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, loader: type[Any], text: str,
        needle: str, message: str) -> None:
    file, refused = _refused(monkeypatch, tmp_path, loader, load_subscriptions,
                             SubscriptionError, text)
    assert refused.startswith(f"{file}{place(text, needle)}: {message}")


def _channels(path: Path) -> Any:
    return load_channels(path, {"HOOK": "https://hooks.example/x"})


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize(("text", "needle", "message"), [
    pytest.param("channels:\n  - id: hook\n    kind: slack-webhook\n    url_evn: HOOK\n",
                 "url_evn", "channel 'hook': unknown key 'url_evn'", id="unknown-key"),
    pytest.param("channels:\n  - {id: hook, kind: webhook, url: 'https://x.example/h', "
                 "secret: s, to: [a@example.com]}\n", "to:",
                 "channel 'hook': unknown key 'to'", id="key-of-another-kind"),
    pytest.param("chanels: []\n", "chanels", "unknown key 'chanels'", id="unknown-top-key"),
    pytest.param("smtp:\n  host: mail.example.com\n  pasword_env: PW\nchannels:\n"
                 "  - {id: a, kind: email, to: [a@example.com]}\n", "pasword_env",
                 "smtp: unknown key 'pasword_env'", id="unknown-smtp-key"),
    pytest.param("channels:\n  - {id: a, kind: pager}\n", "pager",
                 "channel 'a': kind must be one of", id="bad-kind"),
    pytest.param("channels:\n  - {id: a, kind: webhook, url: 'ftp://x.example/', secret: s}\n",
                 "'ftp://", "channel 'a': url must be an absolute http(s) URL", id="bad-url"),
    pytest.param("channels:\n  - id: a\n    kind: slack-webhook\n    url_env: UNSET\n",
                 "UNSET", "channel 'a': environment variable UNSET (from url_env) is not set",
                 id="unset-variable"),
    pytest.param("smtp: {host: mail.example.com}\nchannels:\n  - id: a\n    kind: email\n"
                 "    to: [ok@example.com, 'a@b.example, c@d.example']\n", "'a@b.example,",
                 "channel 'a': ", id="bad-recipient"),
    pytest.param("channels:\n  - {id: a, kind: email, to: [a@example.com]}\n",
                 "{id: a, kind: email", "email channels need an 'smtp:' mapping",
                 id="email-without-smtp"),
    pytest.param("smtp: {host: h, security: ssl}\nchannels:\n"
                 "  - {id: a, kind: email, to: [a@example.com]}\n", "ssl",
                 "smtp security must be starttls, tls or none", id="bad-smtp-value"),
    pytest.param("channels:\n  - {id: a, kind: slack-webhook, url_env: HOOK}\n"
                 "  - {id: a, kind: slack-webhook, url_env: HOOK}\n", "a, kind",
                 "channel 'a' is defined twice", id="duplicate-id"),
    pytest.param("channels:\n  - {id: a, kind: slack-webhook, url_env: HOOK}\n"
                 "  - {kind: webhook}\n", "{kind", "channels[1] needs an 'id'",
                 id="entry-without-id"),
    pytest.param("channels: none\n", "none", "needs a top-level 'channels:' list",
                 id="channels-not-a-list"),
])
def test_channels_file_errors_point_at_the_key_or_value(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, loader: type[Any], text: str,
        needle: str, message: str) -> None:
    file, refused = _refused(monkeypatch, tmp_path, loader, _channels, ChannelError, text)
    assert refused.startswith(f"{file}{place(text, needle)}: ")
    assert message in refused


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize(("content", "needle", "message"), [
    pytest.param("feeds:\n  - ok\n  - [unclosed\n", "", "is not valid YAML",
                 id="unclosed-found-at-the-end"),  # "" is found last at the very end
    pytest.param("feeds:\n  - a: b: c\n", ": c", "is not valid YAML", id="bad-mapping"),
    pytest.param("feeds:\n  - ÜÜÜ\n  - \x07\n", "\x07", "is not valid YAML",
                 id="unprintable-character"),
    pytest.param("feeds:\n  - x: !!python/object/apply:os.system [1]\n", "!!python",
                 "is not valid YAML", id="unsafe-tag"),
    pytest.param(b"feeds:\n  - \xc3\xbc\xff\n", "\xff", "cannot read feeds file",
                 id="not-utf8"),
])
def test_file_level_errors_start_with_the_place(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, loader: type[Any],
        content: str | bytes, needle: str, message: str) -> None:
    file, refused = _refused(monkeypatch, tmp_path, loader, load_feeds, FeedFileError, content)
    text = content.decode("latin-1") if isinstance(content, bytes) else content
    text = text.replace("\xc3\xbc", "ü")  # columns count characters, not bytes
    assert refused.startswith(f"{file}{place(text, needle)}: ")
    assert message in refused


@pytest.mark.parametrize("loader", LOADERS)
def test_too_many_aliases_start_with_the_place_of_the_last(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, loader: type[Any]) -> None:
    text = "a: &a x\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n"
    file, refused = _refused(monkeypatch, tmp_path, loader, load_feeds, FeedFileError, text)
    assert refused.startswith(f"{file}{place(text, '*a')}: feeds file ")
    assert f"more than {MAX_ALIASES} aliases" in refused
