"""Fuzzing wirewatch.connectors.identity: canonical URLs and item ids keep their promises on any
input.

tests/unit/connectors/test_identity.py pins the documented cases one by one (tracking
parameters, default ports, IPv6, pass-through of non-HTTP URLs...); here hypothesis looks
for inputs that break the promises themselves:

- canonical_url never raises, whatever the text: it feeds on links written by feeds, and
  one bad link must not cost a feed its other items (`http://[oops` used to raise
  ValueError out of `raw_items`, and so out of every poll of that feed);
- it is idempotent (`http://h/a #top` used to give `http://h/a ` and then `http://h/a`);
- what it does not treat as an http(s) URL it returns stripped and otherwise unchanged;
- a valid http(s) URL stays valid, with a lower-case scheme and host, no fragment, no
  tracking parameter, no default port, a sorted query and no trailing slash; and every
  spelling of the same page gives the same string;
- item ids (and content hashes, feed ids) are deterministic, even across processes,
  32 (16) lower-case hex characters, and differ when the identifying fields differ.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from urllib.parse import parse_qsl, urlencode, urlsplit

from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.provisional import urls
from wirewatch.connectors.identity import (
    _TRACKING_PARAMS,
    canonical_url,
    content_hash,
    feed_id,
    item_id,
)

from tests.conftest import REPO

HEX32 = re.compile(r"[0-9a-f]{32}")
TRACKING = sorted(_TRACKING_PARAMS) + ["utm_source", "UTM_Medium", "utm_campaign", "mc_eid",
                                       "pk_kwd", "hsa_acc", "FBCLID", "Gclid"]

# Host names: hypothesis.provisional.domains() is several times slower to draw from.
_label = st.builds(str.__add__, st.sampled_from("abcxyz019"),
                   st.text(st.sampled_from("abcxyz019-"), max_size=6)).filter(
    lambda label: not label.endswith("-"))
domains = st.builds(lambda labels, tld: ".".join([*labels, tld]),
                    st.lists(_label, min_size=1, max_size=3),
                    st.sampled_from(["com", "org", "example", "io", "co.uk", "xn--p1ai"]))

# Text that includes what st.text() leaves out: lone surrogates and C0/C1 controls.
any_text = st.text(st.one_of(
    st.characters(),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.characters(max_codepoint=0x9F),
))
_piece = st.lists(st.sampled_from(list("aZ09:/?#[]@!$&'()*+,;=%-._~ \t\n\x00\x1f") +
                                  ["\u0130", "\u2100", "\uff03", "\u00e9", "\u2028", "%zz",
                                   "%7E", "%2F", "::1", "..", "\u3002"]),
                  max_size=10).map("".join)


@st.composite
def url_shaped(draw: st.DrawFn) -> str:
    """Strings that look like URLs, with every part drawn from troublesome characters."""
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "hTTps", "ftp", "javascript",
                                   "data", "", "http:", " http"]))
    user = draw(st.sampled_from(["", "user@", "u:p@", "@", ":@", "a@b@"]))
    host = draw(st.one_of(domains, st.sampled_from(["[::1]", "[2001:DB8::1]", "[", "]",
                                                      "[v1.x]", "127.0.0.1", ".", "",
                                                      "EXAMPLE.com."]), _piece))
    port = draw(st.sampled_from(["", ":80", ":443", ":8080", ":", ":99999", ":abc", ":0",
                                 ":-1", ": 80"]))
    path = draw(st.one_of(st.just(""), st.lists(_piece, max_size=4).map(
        lambda parts: "/" + "/".join(parts))))
    query = draw(st.one_of(st.just(""), st.lists(st.tuples(
        st.one_of(st.sampled_from(TRACKING + ["a", "b", "", "a b", "x+y", "="]), _piece),
        _piece), max_size=4).map(lambda pairs: "?" + "&".join(f"{k}={v}" for k, v in pairs))))
    fragment = draw(st.one_of(st.just(""), _piece.map(lambda text: "#" + text)))
    around = draw(st.sampled_from(["", " ", "\t", "\n", "\x00", "\x1f"]))
    return f"{around}{scheme}://{user}{host}{port}{path}{query}{fragment}{around}"


anything = st.one_of(any_text, url_shaped(), urls())


@given(anything)
def test_canonical_url_never_raises_and_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert isinstance(once, str)
    assert canonical_url(once) == once


@given(anything)
def test_what_is_not_canonicalised_is_only_stripped(url: str) -> None:
    once, stripped = canonical_url(url), url.strip()
    if not once.startswith(("http://", "https://")):
        assert once == stripped
    if once != stripped:  # canonicalised: an http(s) URL with a host that urllib reads back
        split = urlsplit(once)
        assert split.scheme in ("http", "https") and split.hostname


# --- valid URLs ------------------------------------------------------------------------

_segment = st.text(st.sampled_from("abcXYZ019-._~%"), min_size=1, max_size=8).map(
    lambda s: re.sub(r"%(?![0-9A-F]{2})", "%25", s))
_key = st.text(st.sampled_from("abkXYZ019_-"), min_size=1, max_size=6).filter(
    lambda key: key.lower() not in _TRACKING_PARAMS and
    not key.lower().startswith(("utm_", "mc_", "pk_", "hsa_")))


@st.composite
def page(draw: st.DrawFn) -> dict[str, object]:
    """The parts of one web page's address, before any particular spelling of it."""
    return {"scheme": draw(st.sampled_from(["http", "https"])),
            "host": draw(domains),
            "port": draw(st.one_of(st.none(), st.integers(1, 65535))),
            "path": draw(st.lists(_segment, max_size=4)),
            "query": draw(st.lists(st.tuples(_key, _segment), max_size=4))}


@st.composite
def spelling(draw: st.DrawFn, parts: dict[str, object]) -> str:
    """One way a feed might write the page: case, default port, slashes, tracking, fragment."""
    scheme, host = str(parts["scheme"]), str(parts["host"])
    port = parts["port"]
    default = 80 if scheme == "http" else 443
    if port is None and draw(st.booleans()):
        port = default
    case = draw(st.integers(0, 2**64 - 1))  # which letters of scheme and host to upper-case
    mixed = "".join(c.upper() if case >> (i % 64) & 1 else c
                    for i, c in enumerate(scheme + "://" + host))
    path = "/" + "/".join(parts["path"])  # type: ignore[arg-type]
    if draw(st.booleans()):
        path += "/"
    query = list(parts["query"])  # type: ignore[call-overload]
    query += [(name, draw(_segment)) for name in draw(st.lists(st.sampled_from(TRACKING),
                                                               max_size=3))]
    query = draw(st.permutations(query))
    fragment = draw(st.one_of(st.just(""), _segment.map(lambda text: "#" + text)))
    netloc_port = "" if port is None else f":{port}"
    return (f"{mixed}{netloc_port}{path}" + ("?" + "&".join(f"{k}={v}" for k, v in query)
                                             if query else "") + fragment)


@given(st.data())
def test_every_spelling_of_a_page_gives_one_valid_canonical_url(data: st.DataObject) -> None:
    parts = data.draw(page())
    first, second = data.draw(spelling(parts)), data.draw(spelling(parts))
    canonical = canonical_url(first)
    assert canonical_url(second) == canonical
    split = urlsplit(canonical)
    assert split.scheme == parts["scheme"]
    assert split.hostname == str(parts["host"]).lower().rstrip(".")
    default = 80 if parts["scheme"] == "http" else 443
    assert split.port == (None if parts["port"] in (None, default) else parts["port"])
    assert not split.fragment and "#" not in canonical
    pairs = parse_qsl(split.query, keep_blank_values=True)
    assert pairs == sorted(pairs)
    written = "&".join(f"{key}={value}" for key, value in parts["query"])  # type: ignore[attr-defined]
    assert pairs == sorted(parse_qsl(written, keep_blank_values=True))
    assert split.path == "/" or not split.path.endswith("/")


@given(urls())
def test_valid_urls_stay_valid_without_tracking_or_fragment(url: str) -> None:
    canonical = canonical_url(url)
    split = urlsplit(canonical)
    assert split.scheme in ("http", "https") and split.hostname
    assert split.hostname == split.hostname.lower()
    assert not split.fragment
    assert split.port != {"http": 80, "https": 443}[split.scheme]
    names = [name.lower() for name, _ in parse_qsl(split.query, keep_blank_values=True)]
    assert not any(name in _TRACKING_PARAMS or name.startswith(("utm_", "mc_", "pk_", "hsa_"))
                   for name in names)


@given(urls(), st.lists(st.sampled_from(TRACKING), min_size=1, max_size=4), st.text())
def test_tracking_parameters_never_change_the_canonical_url(url: str, names: list[str],
                                                            value: str) -> None:
    separator = "&" if "?" in url.split("#")[0] else "?"
    base, _, fragment = url.partition("#")
    tracked = base + separator + urlencode([(name, value) for name in names]) + "#" + fragment
    assert canonical_url(tracked) == canonical_url(url)


# --- item ids -------------------------------------------------------------------------

optional_text = st.one_of(st.none(), any_text)


@given(any_text, optional_text, optional_text, any_text, any_text, st.booleans())
def test_item_id_is_deterministic_and_shaped(feed: str, guid: str | None, url: str | None,
                                             title: str, content: str, collides: bool) -> None:
    first = item_id(feed, guid=guid, url=url, title=title, content=content,
                    guid_collides=collides)
    again = item_id(feed, guid=guid, url=url, title=title, content=content,
                    guid_collides=collides)
    assert first == again and HEX32.fullmatch(first)
    assert HEX32.fullmatch(content_hash(title, content))
    assert re.fullmatch(r"[0-9a-f]{16}", feed_id(url or feed))


@given(any_text, any_text, any_text, optional_text, any_text, any_text)
def test_item_id_differs_when_the_identifying_field_differs(
        feed: str, guid: str, other_guid: str, url: str | None, title: str, content: str,
) -> None:
    assume(guid.strip() and other_guid.strip() and guid.strip() != other_guid.strip())
    ids = {item_id(feed, guid=g, url=url, title=title, content=content)
           for g in (guid, other_guid)}
    assert len(ids) == 2
    # The GUID decides alone: URL, title and content do not matter.
    assert item_id(feed, guid=guid, url=url, title=title, content=content) == item_id(
        feed, guid=f" {guid} ", url=None, title=title + "x", content="")
    assert item_id(feed, guid=guid, url=None, title=title, content=content) != item_id(
        feed + "x", guid=guid, url=None, title=title, content=content)


@given(any_text, st.data(), any_text, any_text)
def test_item_id_without_guid_follows_the_canonical_url(feed: str, data: st.DataObject,
                                                        title: str, content: str) -> None:
    first = data.draw(page())
    second = first if data.draw(st.booleans()) else data.draw(page())
    url, other = data.draw(spelling(first)), data.draw(spelling(second))
    same_page = canonical_url(url) == canonical_url(other)
    assert same_page or first != second
    left = item_id(feed, guid=None, url=url, title=title, content=content)
    right = item_id(feed, guid="  ", url=other, title=title + "edited", content="")
    assert (left == right) is same_page


@given(any_text, any_text, any_text, any_text, any_text)
def test_item_id_without_guid_or_url_follows_title_and_content(
        feed: str, title: str, content: str, other_title: str, other_content: str,
) -> None:
    same = (title.strip(), content.strip()) == (other_title.strip(), other_content.strip())
    left = item_id(feed, guid=None, url=None, title=title, content=content)
    right = item_id(feed, guid="", url="", title=other_title, content=other_content)
    assert (left == right) is same
    assert (content_hash(title, content) == content_hash(other_title, other_content)) is same


TRICKY = ["", " ", "g\ud800x", "\udfff", "é", "e\u0301", "\x00", "a\x1fb", "\U0001f600",
          "https://Example.com/a/?utm_source=x#f", "http://[oops", "mailto:x@y", "\u2028"]

_CHILD = """
import json, sys
from wirewatch.connectors.identity import content_hash, feed_id, item_id
cases = json.loads(sys.stdin.read())
print(json.dumps([[item_id(f, guid=g, url=u, title=t, content=c), content_hash(t, c),
                   feed_id(u or f)] for f, g, u, t, c in cases], ensure_ascii=True))
"""


def test_ids_are_the_same_in_another_process_with_another_hash_seed() -> None:
    cases = [[f, g, u, t, c] for f in ("feed", "\ud800")
             for g, u, t, c in zip(TRICKY, [None, *TRICKY[:-1]], TRICKY[::-1], TRICKY[2:] +
                                   TRICKY[:2], strict=True)]
    here = [[item_id(f, guid=g, url=u, title=t, content=c), content_hash(t, c),
             feed_id(u or f)] for f, g, u, t, c in cases]
    child = subprocess.run(
        [sys.executable, "-c", _CHILD], input=json.dumps(cases), capture_output=True,
        text=True, cwd=REPO, check=True, timeout=60,
        env={**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO)})
    assert json.loads(child.stdout) == here
