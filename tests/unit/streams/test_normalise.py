"""Text normalisation: HTML to lines, typography folded, site chrome dropped, prose kept."""

from __future__ import annotations

import pytest
from wirewatch.streams.normalise import (
    fold_typography,
    html_to_text,
    is_chrome_line,
    normalise_text,
    normalise_title,
)


@pytest.mark.parametrize(("markup", "lines"), [
    ("plain text, no tags", ["plain text, no tags"]),
    ("AT&amp;T &lt;b&gt; &#8217;", ["AT&T <b> \u2019"]),  # entities decoded without tags too
    ("<p>One</p><p>Two</p>", ["One", "Two"]),
    ("<div>a<br>b<br/>c</div>", ["a", "b", "c"]),
    ("<h2>Head</h2>Body <b>bold</b> <a href='x'>link</a>", ["Head", "Body bold link"]),
    ("<ul><li>one</li><li>two</li></ul>", ["one", "two"]),
    ("<p>a &amp; b &eacute;</p>", ["a & b \u00e9"]),
    ("<p>keep</p><script>var x = '<p>no</p>';</script><p>also</p>", ["keep", "also"]),
    ("<style>p { color: red }</style><p>text</p>", ["text"]),
    ("<noscript>enable js</noscript><template><p>t</p></template>ok", ["ok"]),
    ("<svg><text>chart</text></svg><p>after</p>", ["after"]),
    ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", ["ab", "c"]),
])
def test_html_to_text_blocks_become_lines(markup: str, lines: list[str]) -> None:
    text = html_to_text(markup)
    assert [line.strip() for line in text.splitlines() if line.strip()] == lines


@pytest.mark.parametrize(("text", "folded"), [
    ("\u201cquoted\u201d and \u2018single\u2019", "\"quoted\" and 'single'"),
    ("it\u2019s", "it's"),
    ("\u201elow\u201c \u00abguillemets\u00bb", '"low" "guillemets"'),
    ("2020\u20132021 \u2014 em \u2212minus \u2010hy", "2020-2021 - em -minus -hy"),
    ("wait\u2026", "wait..."),
    ("non\u00a0breaking", "non breaking"),
    ("zero\u200bwidth\u200c\u200djoin\ufeff", "zerowidthjoin"),
    ("  many   spaces\there  ", "many spaces here"),
    ("\uff21\uff22\uff23 \ufb01", "ABC fi"),  # NFKC: full-width letters, ligatures
    ("line one  \n   line two", "line one\nline two"),
])
def test_fold_typography(text: str, folded: str) -> None:
    assert fold_typography(text) == folded


CHROME = [
    "Home | News | Business",
    "Home > Tech > AI",
    "News / World / Europe",
    "By Jane Doe",
    "by Jane Doe",
    "By Jane Doe, Reuters",
    "By J.R. O'Neil-Smith | Staff Writer",
    "Posted by Staff Writer, Reuters",
    "Written by Ana Lopez",
    "We use cookies to improve your experience.",
    "This website uses cookies. Accept all cookies",
    "Accept cookies",
    "Source link",
    "Source Link",
    "Read more",
    "READ MORE",
    "Continue reading",
    "Click here to subscribe",
    "Also read: Nvidia beats estimates",
    "Related read: more on OpenAI",
    "Must Read: the week in AI",
    "Share this article",
    "Share on Twitter",
    "Follow us on LinkedIn",
    "Advertisement",
    "Sponsored",
    "Sign up for our newsletter",
    "Subscribe to the Daily Brief newsletter",
    "Get our newsletter - sign up today",
    "Copyright 2025 Example Media",
    "\u00a9 2025 Example Media. All rights reserved.",
    "Copyright (c) 2024 Reuters",
    "Tags: AI, OpenAI",
    "Filed under: Technology",
    "Categories: Business",
    "Disclaimer: not investment advice",
    "Photo: Reuters",
    "Image credit: Getty Images",
    "   Read more   ",
]

PROSE = [
    "By the end of the year, profits rose.",
    "by the end of the year, profits rose.",
    "By 2030, the company expects to double revenue.",
    "Copyright lawsuits are rising.",
    "Copyright holders sued in 2024.",
    "Readers can read more in the report.",
    "Read more about it: the report is long and detailed and worth it.",
    "News of the deal broke late on Friday.",
    "World leaders met in Paris on Monday.",
    "Shares on Monday fell 5%.",
    "Shareholders approved the merger.",
    "Follow-up talks are planned for next week.",
    "Advertisement revenue grew 12% in the quarter.",
    "The cookie maker reported record sales.",
    "Sponsored content is labelled under the new rules.",
    "Photographers were barred from the event.",
    "The company said it will tag suspicious posts.",
    "OpenAI named Jane Doe as chief executive.",
]


@pytest.mark.parametrize("line", CHROME)
def test_chrome_lines_are_recognised(line: str) -> None:
    assert is_chrome_line(line)


@pytest.mark.parametrize("line", PROSE)
def test_prose_lines_are_kept(line: str) -> None:
    assert not is_chrome_line(line)


def test_normalise_text_end_to_end() -> None:
    markup = """
    <nav><div>Home | News | Business</div></nav>
    <article>
      <h1>OpenAI names new\u00a0CEO</h1>
      <p>By Jane Doe</p>
      <p>OpenAI\u2019s board said on Monday \u2014 after weeks of talks \u2014 that it had \
appointed a new chief executive.</p>
      <script>track("view")</script>
      <p></p>
      <p>By the end of the year, profits rose.</p>
      <p>Also read: <a href="/x">Microsoft earnings</a></p>
      <p>Read more</p>
    </article>
    <footer><p>&copy; 2025 Example Media</p><p>We use cookies.</p></footer>
    """
    assert normalise_text(markup).splitlines() == [
        "OpenAI names new CEO",
        "OpenAI's board said on Monday - after weeks of talks - that it had appointed a "
        "new chief executive.",
        "By the end of the year, profits rose.",
    ]


def test_normalise_text_of_plain_text() -> None:
    assert normalise_text("First line\n\n\nSource link\nSecond\u2026") == "First line\nSecond..."


@pytest.mark.parametrize(("title", "expected"), [
    ("OpenAI <b>names</b>\n new   CEO", "OpenAI names new CEO"),
    ("<p>A</p><p>B</p>", "A B"),
    ("Q3 \u2014 \u201cbig\u201d &amp; bold", 'Q3 - "big" & bold'),
])
def test_normalise_title(title: str, expected: str) -> None:
    assert normalise_title(title) == expected


TRICKY_MARKUP = [
    "<p>One</p><p>Two &amp; three</p>", "<div><br/>a<br>b<BR />c</div>", "<P CLASS='x'>Up</P>",
    "<p title=\"a>b\">quoted &gt; attr</p>", "<p>line\nbreak &#10; ref</p>",
    "<ul><li>a</li><li>b</li></ul>trailing &copy; 2026", "<p>5 < 6 and 7 > 3</p>",
    "<p>Rio <Rio Tinto-Zinc> bid</p>", "<p>unclosed <b", "<!-- note --><p>after</p>",
    "<script>var a = '<p>';</script><p>shown</p>", "<style>p{}</style><p>x</p>",
    "<p>&nbsp;&#8217;&unknown; &amp</p>", "<h2>T</h2><table><tr><td>1</td></tr></table>",
    "<a href='x'>link</a> <img src='y'/> <o:p>office</o:p>", "<p>a</p\n>b", "<![CDATA[x]]><p>y</p>",
    "buy contractor <P.W. Stephens> for <p>three</p>", "<p/>x<p />y</p/>",
]


def test_fast_html_path_gives_the_parsers_text() -> None:
    """html_to_text splits well-formed markup itself; it must say what HTMLParser says."""
    import sys
    from pathlib import Path

    from wirewatch.streams.normalise import html_to_text, parse_to_text

    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
    from corpus import raw_items

    samples = TRICKY_MARKUP + [item.content for item in raw_items(200, seed=3)]
    for markup in samples:
        assert html_to_text(markup) == parse_to_text(markup), markup
