"""An alert whose article link is missing or unsafe says so on every channel, never a blank."""

from __future__ import annotations

import pytest
from wirewatch.alerts.notifiers.console import format_alert
from wirewatch.alerts.records import DigestItem
from wirewatch.alerts.render import email_bodies, slack_message

from tests.support.alerts import make_alert

DROPPED = "(link dropped: not a web address this alert can show)"
NONE = "(no link: the feed gave none)"


@pytest.mark.parametrize(("url", "note"), [
    ("", NONE), ("   ", NONE),
    ("javascript:alert(1)", DROPPED), ("JaVaScRiPt:alert(1)", DROPPED),
    ("data:text/html,<b>x</b>", DROPPED), ("file:///etc/passwd", DROPPED),
    ("/relative/path", DROPPED),
])
def test_every_channel_says_why_there_is_no_link(url: str, note: str) -> None:
    alert = make_alert(url=url)
    assert format_alert(alert).splitlines()[1] == f"  {note}  (Example, 2 outlet(s))"
    text, html = email_bodies(alert)
    assert text.splitlines()[1] == note and note in html
    assert note in slack_message(alert)["blocks"][0]["text"]["text"]
    for rendered in (format_alert(alert), text, html, str(slack_message(alert))):
        assert "javascript:" not in rendered.lower() and "file:" not in rendered


def test_a_shown_link_has_no_note() -> None:
    alert = make_alert(url="https://example.com/a")
    text, html = email_bodies(alert)
    assert text.splitlines()[1] == "https://example.com/a"
    assert "link dropped" not in html + text + format_alert(alert)


def test_digests_say_it_per_story() -> None:
    digest = [DigestItem(alert_id="a1", story_id="s1", title="Linked", url="https://e.com/1",
                         source="E"),
              DigestItem(alert_id="a2", story_id="s2", title="Unlinked", url="javascript:x",
                         source="E")]
    alert = make_alert(digest=digest)
    text, html = email_bodies(alert)
    assert f"- Unlinked\n  {DROPPED} (E)" in text and "https://e.com/1 (E)" in text
    assert DROPPED in html
    slack = slack_message(alert)["blocks"][0]["text"]["text"]
    assert f"Unlinked _{DROPPED}_" in slack and "<https://e.com/1|Linked>" in slack
