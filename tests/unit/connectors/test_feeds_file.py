"""wirewatch.connectors.feeds_file: YAML feeds file, OPML import/export, refusal of unsafe XML."""

from __future__ import annotations

from pathlib import Path

import pytest
from wirewatch.connectors.errors import FeedFileError
from wirewatch.connectors.feeds_file import FeedSpec, load_feeds, load_opml, to_opml


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        pytest.param("feeds:\n  - https://example.com/rss\n",
                     [FeedSpec("https://example.com/rss")], id="string-entry"),
        pytest.param("feeds:\n  - url: https://example.com/rss\n    name: Example\n"
                     "    interval_seconds: 120\n",
                     [FeedSpec("https://example.com/rss", "Example", 120)], id="mapping-entry"),
        pytest.param("feeds:\n  - url: '  http://example.com/a  '\n    interval_seconds: 0.5\n",
                     [FeedSpec("http://example.com/a", "", 0.5)], id="url-stripped-float"),
        pytest.param("feeds:\n  - https://a.example/rss\n  - url: https://b.example/atom\n"
                     "    name: B\n",
                     [FeedSpec("https://a.example/rss"), FeedSpec("https://b.example/atom", "B")],
                     id="mixed-entries-keep-order"),
        pytest.param("feeds:\n  - url: https://example.com/rss\n    name: First\n"
                     "  - https://EXAMPLE.com/rss/?utm_source=x\n"
                     "  - url: https://example.com/rss\n    name: Third\n",
                     [FeedSpec("https://example.com/rss", "First")],
                     id="duplicates-by-canonical-url-removed-first-wins"),
        pytest.param("feeds: []\n", [], id="empty-list"),
        pytest.param("other: 1\nfeeds:\n  - https://example.com/rss\n",
                     [FeedSpec("https://example.com/rss")], id="extra-top-level-keys-ignored"),
    ],
)
def test_load_yaml(tmp_path: Path, yaml_text: str, expected: list[FeedSpec]) -> None:
    assert load_feeds(write(tmp_path, "feeds.yaml", yaml_text)) == expected


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("feeds: [unclosed\n", "is not valid YAML", id="bad-yaml"),
        pytest.param("", "needs a top-level 'feeds:' list", id="empty-file"),
        pytest.param("- https://example.com/rss\n", "needs a top-level 'feeds:' list",
                     id="top-level-list"),
        pytest.param("feeds: https://example.com/rss\n", "needs a top-level 'feeds:' list",
                     id="feeds-not-a-list"),
        pytest.param("feeds:\n  - ftp://example.com/rss\n", "feeds[0]: feed url must be http(s)",
                     id="ftp-url"),
        pytest.param("feeds:\n  - https://ok.example/\n  - example.com/rss\n",
                     "feeds[1]: feed url must be http(s)", id="schemeless-url-index-reported"),
        pytest.param("feeds:\n  - javascript:alert(1)\n", "feed url must be http(s)",
                     id="javascript-url"),
        pytest.param("feeds:\n  - name: no url\n", "each feed needs a 'url' string",
                     id="mapping-without-url"),
        pytest.param("feeds:\n  - url: 42\n", "each feed needs a 'url' string", id="url-not-str"),
        pytest.param("feeds:\n  - 42\n", "each feed needs a 'url' string", id="entry-not-str"),
        pytest.param("feeds:\n  - url: https://e.example/\n    interval_seconds: 0\n",
                     "interval_seconds must be a positive number", id="interval-zero"),
        pytest.param("feeds:\n  - url: https://e.example/\n    interval_seconds: -5\n",
                     "interval_seconds must be a positive number", id="interval-negative"),
        pytest.param("feeds:\n  - url: https://e.example/\n    interval_seconds: '60'\n",
                     "interval_seconds must be a positive number", id="interval-string"),
        pytest.param("feeds:\n  - url: https://e.example/\n    interval_seconds: true\n",
                     "interval_seconds must be a positive number", id="interval-bool"),
        pytest.param("feeds:\n  - url: https://e.example/\n    interval_seconds: .nan\n",
                     "interval_seconds must be a positive number", id="interval-nan"),
        pytest.param("feeds:\n  - url: https://e.example/\n    interval_seconds: .inf\n",
                     "interval_seconds must be a positive number", id="interval-inf"),
        pytest.param(b"feeds:\n  - https://example.com/\xff\n", "cannot read feeds file",
                     id="not-utf8"),
    ],
)
def test_load_yaml_errors(tmp_path: Path, content: str | bytes, message: str) -> None:
    path = write(tmp_path, "feeds.yaml", content)
    with pytest.raises(FeedFileError) as excinfo:
        load_feeds(path)
    assert message in str(excinfo.value)
    assert str(path) in str(excinfo.value)


@pytest.mark.parametrize("name", [pytest.param("feeds.yaml", id="yaml"),
                                  pytest.param("feeds.opml", id="opml")])
def test_missing_file(tmp_path: Path, name: str) -> None:
    with pytest.raises(FeedFileError, match="cannot read"):
        load_feeds(tmp_path / name)


NESTED_OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Subscriptions</title></head>
  <body>
    <outline text="News">
      <outline type="rss" text="Alpha text" title="Alpha" xmlUrl="https://a.example/rss"/>
      <outline text="Deeper">
        <outline type="rss" text="Beta" xmlUrl="https://b.example/atom.xml"/>
        <outline type="rss" xmlUrl="https://c.example/feed"/>
      </outline>
    </outline>
    <outline type="link" text="Not a feed" url="https://d.example/"/>
    <outline type="rss" text="Alpha again" xmlUrl="https://A.example/rss/"/>
  </body>
</opml>"""


@pytest.mark.parametrize(
    ("suffix", "loader"),
    [
        pytest.param(".opml", load_feeds, id="load_feeds-opml-suffix"),
        pytest.param(".xml", load_feeds, id="load_feeds-xml-suffix"),
        pytest.param(".OPML", load_feeds, id="load_feeds-suffix-case-insensitive"),
        pytest.param(".txt", load_opml, id="load_opml-direct"),
    ],
)
def test_load_opml_nested(tmp_path: Path, suffix: str, loader: object) -> None:
    path = write(tmp_path, f"subs{suffix}", NESTED_OPML)
    assert loader(path) == [  # type: ignore[operator]
        FeedSpec("https://a.example/rss", "Alpha"),  # title preferred over text
        FeedSpec("https://b.example/atom.xml", "Beta"),
        FeedSpec("https://c.example/feed", ""),
    ]


@pytest.mark.parametrize(
    "specs",
    [
        pytest.param([FeedSpec("https://a.example/rss", "Alpha"),
                      FeedSpec("http://b.example/feed?x=1&y=2", "B & \"Co\" <news>")],
                     id="escaping-needed"),
        pytest.param([FeedSpec("https://c.example/rss", "Ünïcode — ✓\nnew line")],
                     id="unicode-and-newline-name"),
        pytest.param([], id="empty"),
    ],
)
def test_opml_round_trip(tmp_path: Path, specs: list[FeedSpec]) -> None:
    path = write(tmp_path, "out.opml", to_opml(specs, title="Mine & <yours>"))
    assert load_opml(path) == specs


def test_unnamed_feed_stays_unnamed_through_opml(tmp_path: Path) -> None:
    document = to_opml([FeedSpec("https://a.example/rss")])
    assert 'text="https://a.example/rss"' in document  # readers need some text to show
    path = write(tmp_path, "out.opml", document)
    assert load_opml(path) == [FeedSpec("https://a.example/rss", "")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            '<?xml version="1.0"?>\n<!DOCTYPE opml [\n <!ENTITY a "lol">\n'
            ' <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n'
            ' <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">\n]>\n'
            '<opml><body><outline text="&c;" xmlUrl="https://a.example/"/></body></opml>',
            "not valid or safe XML", id="billion-laughs"),
        pytest.param(
            '<?xml version="1.0"?>\n<!DOCTYPE opml [\n'
            ' <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
            '<opml><body><outline text="&xxe;" xmlUrl="https://a.example/"/></body></opml>',
            "not valid or safe XML", id="xxe-external-entity"),
        pytest.param(
            '<?xml version="1.0"?>\n<!DOCTYPE opml SYSTEM "https://evil.example/opml.dtd">\n'
            '<opml><body><outline xmlUrl="https://a.example/"/></body></opml>',
            "not valid or safe XML", id="external-dtd"),
        pytest.param('<opml><body><outline xmlUrl="https://a.example/"', "not valid or safe XML",
                     id="truncated"),
        pytest.param("", "not valid or safe XML", id="empty"),
        pytest.param('<opml><body><outline xmlUrl="file:///etc/passwd"/></body></opml>',
                     "feed url must be http(s)", id="non-http-xmlurl"),
    ],
)
def test_opml_errors(tmp_path: Path, content: str, message: str) -> None:
    path = write(tmp_path, "bad.opml", content)
    with pytest.raises(FeedFileError) as excinfo:
        load_opml(path)
    assert message in str(excinfo.value)


def test_feed_spec_id_follows_canonical_url() -> None:
    base = FeedSpec("https://example.com/rss").feed_id
    assert FeedSpec("https://Example.com/rss/").feed_id == base
    assert FeedSpec("https://example.com/x").feed_id != base


@pytest.mark.parametrize(("content", "message"), [
    pytest.param("feeds:\n  - url: https://a.example/\n    nmae: A\n",
                 r":3:5: feeds\[0\]: unknown key 'nmae' \(did you mean 'name'\? known keys: url, "
                 r"name, interval_seconds", id="typo-with-suggestion"),
    pytest.param("feeds:\n  - https://a.example/\n  - url: https://b.example/\n"
                 "    colour: red\n",
                 r":4:5: feeds\[1\]: unknown key 'colour' \(known keys",
                 id="unknown-no-suggestion"),
    pytest.param("feeds:\n  - url: https://a.example/\n\n    interval_seconds: \"ten\"\n",
                 r":4:23: feeds\[0\]: interval_seconds must be a positive number, got 'ten'",
                 id="type-error-names-the-line"),
    pytest.param("feeds:\n  - https://a.example/\n  - ftp://b.example/\n",
                 r":3:5: feeds\[1\]: feed url must be http\(s\)", id="string-entry-line"),
    pytest.param("feeds:\n  - https://a.example/\n  - name: B\n",
                 r":3:5: feeds\[1\]: each feed needs a 'url' string", id="missing-url-line"),
    pytest.param("feds:\n  - https://a.example/\n",
                 r"needs a top-level 'feeds:' list \(found 'feds': a typo\?\)",
                 id="top-level-typo"),
])
def test_file_errors_name_file_line_and_key(tmp_path: Path, content: str, message: str) -> None:
    path = write(tmp_path, "feeds.yaml", content)
    with pytest.raises(FeedFileError, match=message) as excinfo:
        load_feeds(path)
    assert str(path) in str(excinfo.value)


def test_lenient_reads_past_unknown_keys_and_says_so(tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, "feeds.yaml", "feeds:\n  - url: https://a.example/\n    nmae: A\n")
    assert load_feeds(path, lenient=True) == [FeedSpec("https://a.example/")]
    assert f"{path}:3:5: feeds[0]: unknown key 'nmae' (did you mean 'name'?" in caplog.text
