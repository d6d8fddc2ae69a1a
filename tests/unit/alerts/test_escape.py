"""Feed text cannot mention, link, inject headers or script through any channel."""

from __future__ import annotations

import json
from email import message_from_bytes, policy

import pytest
from wirewatch.alerts.escape import header_value, html_link, safe_url, slack_link, slack_text
from wirewatch.alerts.notifiers.email import build_message
from wirewatch.alerts.render import email_bodies, slack_message

from tests.support.alerts import make_alert


@pytest.mark.parametrize("hostile", [
    "<!channel> breaking", "<!here>", "<!everyone>", "<@U024BE7LH> look", "<#C024BE7LR>",
    "<!subteam^SAZ94GDB8>", "<https://evil.example|https://bank.example/login>",
    "<mailto:a@b.c|click>",
])
def test_slack_text_never_makes_mentions_or_links(hostile: str) -> None:
    escaped = slack_text(hostile)
    assert "<" not in escaped and ">" not in escaped
    assert "&lt;" in escaped


def test_slack_link_label_cannot_fake_the_target() -> None:
    assert slack_link("https://news.example/a?x=1&y=2", "Fake | <https://bank>") == (
        "<https://news.example/a?x=1&y=2|Fake ¦ &lt;https://bank&gt;>")
    assert slack_link("javascript:alert(1)", "click") == "click"


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>", "vbscript:x",
    "/relative", "https://", "https://ok.example/\nSet-Cookie: x", "https://a.example/<b>",
    "ftp://files.example/x",
])
def test_unsafe_urls_are_dropped(url: str) -> None:
    assert safe_url(url) is None


def test_header_values_lose_line_breaks_and_encoded_words() -> None:
    value = header_value("Hi\r\nBcc: victim@example.com =?utf-8?q?=0D=0ABcc:_x?= end")
    assert "\r" not in value and "\n" not in value and "=?" not in value
    assert value.startswith("Hi Bcc: victim@example.com")


def test_email_from_a_hostile_alert_has_exactly_our_headers() -> None:
    alert = make_alert(title="Big news\r\nBcc: attacker@evil.example\r\n\r\n<script>x</script>",
                       url="javascript:alert(1)", source="Evil\nX-Injected: 1")
    raw = build_message(alert, "alerts@wirewatch.example", ["ana@example.com"]).as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Bcc"] is None and parsed["X-Injected"] is None
    assert parsed["To"] == "ana@example.com"
    html_part = parsed.get_body(("html",)).get_content()
    assert "<script>" not in html_part and "&lt;script&gt;" in html_part
    assert "javascript:" not in html_part


def test_html_link_escapes_and_checks() -> None:
    assert html_link("https://a.example/?q=1&r=2", "<b>") == (
        '<a href="https://a.example/?q=1&amp;r=2">&lt;b&gt;</a>')
    assert html_link('https://a.example/?q="x"', "label") == "label"  # quotes: refused
    assert html_link("data:x", "label") == "label"


def test_slack_message_escapes_every_feed_value() -> None:
    alert = make_alert(title="<!channel> OpenAI", source="<@U1>", evidence=["<!here> why"],
                       subscription_name="<#C1>")
    payload = json.dumps(slack_message(alert, "https://ww.example"))
    for hostile in ("<!channel>", "<@U1>", "<!here>", "<#C1>"):
        assert hostile not in payload
    assert "<https://ww.example/stories/st|story on the dashboard>" in payload


def test_email_bodies_show_title_outlets_tags_and_evidence() -> None:
    text, html_body = email_bodies(make_alert(outlets=3), "https://ww.example")
    assert "OpenAI names new CEO" in text and "Example and 2 more outlets" in text
    assert "openai, leadership-change" in text and "> entity:openai" in text
    assert '<a href="https://example.com/a">OpenAI names new CEO</a>' in html_body


def test_digests_list_every_story_escaped() -> None:
    from wirewatch.alerts.dispatch import digest_of

    digest = digest_of([make_alert(alert_id="x", title="<!channel> one", url="javascript:x"),
                        make_alert(alert_id="y", title="two", outlets=4)], "team-slack")
    payload = json.dumps(slack_message(digest))
    assert "<!channel>" not in payload and "javascript:" not in payload
    assert "<https://example.com/a|two>" in payload and "(+3)" in payload
    text, html_body = email_bodies(digest)
    assert "&lt;!channel&gt; one" in html_body and "- two" in text
