"""Hostile 1 MB HTML bodies through normalise_text: bounded time, whatever the markup.

tests/unit/streams/test_normalise.py checks what the normaliser makes of ordinary markup
and that its fast path gives the HTML parser's text. Here each case is a 1 MB body of
pathological markup (deep nesting of blocks, inline elements, tables and lists, unclosed
tags, skipped elements, attribute and entity floods, stray "<" and ">") and must be
normalised within a budget: 30 times the median time of a normal ~3 KB body that takes the
slower HTML-parser path, scaled linearly to 1 MB, and at most 5 s (a body of stray "< "
is linear but ~10 times slower per byte than ordinary markup). A CPU-time alarm stops a
case at its budget, so a catastrophic case costs the budget, not minutes. Times are
printed in the terminal summary and written to reliability-timings.json.

Two bugs these cases found are fixed in streams/normalise.py: the fast path's tag pattern
backtracked catastrophically on an unclosed tag with no ">" after it ("<p>" + "<a" * 1000,
2 KB, took 40 s, cubic in the length), and Python 3.11.7's HTMLParser is quadratic on runs of
unclosed constructs (CVE-2025-6069: 64 KB of "<!--" took 2.5 s), so what reaches it is
defused first (comments dropped, every "<" no ">" closes escaped).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from wirewatch.streams.normalise import normalise_text

from tests.reliability.budget import budget, median_seconds, within

MB = 1_000_000
MULTIPLE = 30.0
_PARAGRAPH = ("<p>Microsoft said on Tuesday its quarterly profit rose, as "
              "<a href='https://example.com/x?a=1&amp;b=2'>cloud</a> sales grew &amp; costs "
              "fell.</p>\n")


def _fill(unit: str, size: int = MB) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def _nested(opening: str, closing: str, size: int = MB) -> str:
    depth = size // (len(opening) + len(closing))
    return opening * depth + "x" + closing * depth


CASES: dict[str, Callable[[], str]] = {
    "ordinary paragraphs": lambda: _fill(_PARAGRAPH),
    "nested divs": lambda: _nested("<div>", "</div>"),
    "nested inline elements": lambda: _nested("<span><b><i><em>", "</em></i></b></span>"),
    "nested tables and lists": lambda: _nested("<ul><li><table><tr><td>",
                                               "</td></tr></table></li></ul>"),
    "nested blockquotes with attributes": lambda: _nested('<blockquote class="q" id="a">',
                                                          "</blockquote>"),
    "unclosed blocks": lambda: _fill("<div><p>"),
    "nested skipped elements": lambda: _fill("<div><script>"),
    "nested svg, style, template": lambda: _nested("<svg><style><template>",
                                                   "</template></style></svg>"),
    "one element, 100,000 attributes": lambda: "<p " + " ".join(
        f'a{i}="v{i}"' for i in range(MB // 12)) + ">x</p>",
    "one 1 MB attribute value": lambda: "<p title='" + "x" * MB + "'>y</p>",
    "entity flood": lambda: "<p>" + _fill("&amp;&#x1F600;&lt;") + "</p>",
    "one token, no spaces": lambda: "<p>" + "x" * MB + "</p>",
    "a 1 MB tag name": lambda: "<p><" + "a" * MB + ">",
    "stray '< ' everywhere": lambda: "<p>" + _fill("< "),
    "stray '>' everywhere": lambda: "<p>" + ">" * MB,
    "chrome-like lines": lambda: _fill("<p>Home | News | Tech | Share on Facebook</p>\n"),
    "byline-like lines": lambda: _fill("<p>By " + "Ab " * 60 + "</p>\n"),
}
CATASTROPHIC = {  # 1 MB each; before the fix, 2 KB of the first took 40 s
    "unclosed tags with no '>' after them": lambda: "<p>" + _fill("<a"),
    "a run of unclosed comments": lambda: "<p>x</p>" + _fill("<!--"),
    "a run of stray end tags": lambda: "<p>x</p>" + _fill("</"),
    "a run of processing instructions": lambda: "<p>x</p>" + _fill("<?"),
    "unclosed quoted attributes": lambda: _fill('<p><a x="'),
}


@pytest.fixture(scope="module")
def reference() -> float:
    """Median seconds to normalise a normal ~3 KB body on the HTML-parser path (a comment
    sends it there), the slower of the normaliser's two paths."""
    bodies = [f"<!-- item {i} -->" + _fill(_PARAGRAPH, 3000) for i in range(31)]
    return median_seconds(normalise_text, bodies)


def check_bounded(case: str, body: str, reference: float,
                  timings: Callable[..., None]) -> None:
    limit = budget(reference, 3000, len(body), multiple=MULTIPLE)
    _, seconds = within(lambda: normalise_text(body), limit)
    timings("normalise 1 MB", case, seconds, limit, reference_3kb=reference)
    assert seconds is not None, f"{case}: still running after the {limit:.2f}s budget"
    assert seconds <= limit, f"{case}: {seconds:.2f}s, budget {limit:.2f}s"


@pytest.mark.parametrize("case", CASES)
def test_a_1_mb_body_is_normalised_in_bounded_time(case: str, reference: float,
                                                   timings: Callable[..., None]) -> None:
    check_bounded(case, CASES[case](), reference, timings)


@pytest.mark.parametrize("case", CATASTROPHIC)
def test_pathological_markup_is_normalised_in_bounded_time(
        case: str, reference: float, timings: Callable[..., None]) -> None:
    check_bounded(case, CATASTROPHIC[case](), reference, timings)


def test_the_cases_time_real_work() -> None:
    """The cases above time the real normaliser: its output for a 1 MB body is complete."""
    body = CASES["ordinary paragraphs"]()
    text = normalise_text(body)
    assert text.count("Microsoft said on Tuesday") == body.count("Microsoft said on Tuesday")
    assert "<" not in text and "&amp;" not in text
