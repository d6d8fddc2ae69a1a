"""Console notifier: feed text cannot inject terminal control sequences."""

from __future__ import annotations

import io

import pytest
from wirewatch.alerts.notifiers.console import ConsoleNotifier, format_alert

from tests.support.alerts import make_alert


def test_format_alert_layout() -> None:
    assert format_alert(make_alert()).splitlines() == [
        "ALERT [OpenAI] OpenAI names new CEO",
        "  https://example.com/a  (Example, 2 outlet(s))",
        "  topics: leadership-change   entities: openai",
        "  why: entity:openai",
    ]


def test_format_alert_without_tags_or_evidence() -> None:
    lines = format_alert(make_alert(topics=[], entities=[], evidence=[])).splitlines()
    assert lines[2] == "  topics: -   entities: -"
    assert len(lines) == 3


# a url is shown only when it is a clean http(s) URL (tests/unit/alerts/test_link_notes.py)
@pytest.mark.parametrize("field", ["title", "source", "subscription_name"])
@pytest.mark.parametrize(("dirty", "clean"), [
    ("\x1b[31mRED\x1b[0m", "[31mRED[0m"),  # ESC removed: the sequence is inert text
    ("over\rwrite", "overwrite"),
    ("two\nlines", "twolines"),
    ("bell\x07tab\there", "belltabhere"),
    ("bidi\u202eevil", "bidievil"),
    ("caf\u00e9 \u2014 ok", "caf\u00e9 \u2014 ok"),  # printable non-ASCII is kept
])
def test_format_alert_strips_control_characters(field: str, dirty: str, clean: str) -> None:
    text = format_alert(make_alert(**{field: dirty}))
    assert clean in text
    assert not any(ch in text for ch in "\x1b\r\x07\t\u202e")
    assert len(text.splitlines()) == 4  # feed text never adds lines


def test_format_alert_cleans_evidence() -> None:
    text = format_alert(make_alert(evidence=["body: \x1b]0;pwned\x07 x"]))
    assert "\x1b" not in text and "\x07" not in text


async def test_console_notifier_writes_one_block() -> None:
    stream = io.StringIO()
    await ConsoleNotifier(stream).notify(make_alert())
    assert stream.getvalue() == format_alert(make_alert()) + "\n"
