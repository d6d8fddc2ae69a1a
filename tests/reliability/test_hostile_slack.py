"""Hostile feed text in Slack messages: nothing a feed writes can ping anyone or forge a link.

tests/unit/alerts/test_escape.py checks slack_text and slack_link on eight known control
sequences, and one alert and one digest with `<!channel>`-style titles. This module goes
further:

- hypothesis writes titles, sources, evidence, subscription names, tags, URLs and digests
  out of Slack's control sequences (`<!channel>`, `<@U123>`, `<#C1|x>`, `<!subteam^S1>`,
  `<https://evil|https://bank>`), entity tricks (`&lt;!channel&gt;`, `&amp;lt;`, `&#60;`),
  line breaks and truncation points, and checks the whole rendered payload: the only `<...>`
  sequences are links we made, to URLs we checked, with labels that cannot close them;
  and what Slack shows after its one round of `&lt;`/`&gt;`/`&amp;` decoding is the
  feed's text, with nothing decoded twice;
- the payload as the webhook and the Web API receive it (a Slack peer on loopback), with
  no `link_names` and no `parse: full`, which would turn plain `@channel` into a ping.
"""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp
from hypothesis import given
from hypothesis import strategies as st
from wirewatch.alerts.escape import plain, safe_url
from wirewatch.alerts.notifiers.slack_api import SlackApiNotifier
from wirewatch.alerts.notifiers.slack_webhook import SlackWebhookNotifier
from wirewatch.alerts.records import Alert, DigestItem
from wirewatch.alerts.render import MAX_TITLE, slack_message

from tests.support.alerts import make_alert
from tests.support.slack_peer import SlackPeer

DASHBOARD = "https://ww.example"
CONTROL = ["<!channel>", "<!here>", "<!everyone>", "<@U024BE7LH>", "<@W123|ana>",
           "<#C024BE7LR|general>", "<!subteam^SAZ94GDB8|team>", "<!date^1392734382^{date}|x>",
           "<https://evil.example|https://bank.example/login>", "<mailto:a@b.example|x>",
           "<tel:+1555|call>", "<javascript:alert(1)|x>", "&lt;!channel&gt;",
           "&amp;lt;!here&amp;gt;", "&#60;!channel&#62;", "&lt;", "&gt;", "&amp;", "&",
           "<", ">", "|", "<!", "<@", "\uff1c!channel\uff1e", "*bold*", "_it_", "`code`",
           "~x~", "> quote", "\n", "\r\n", "\u2028", "\x0b", "\x00", "\u202e", "@channel",
           "@here", " ", "https://evil.example", "javascript:alert(1)"]
hostile = st.lists(st.one_of(st.sampled_from(CONTROL), st.text(max_size=5)),
                   max_size=8).map("".join)
urls_ = st.one_of(hostile, st.sampled_from([
    "https://news.example/a?x=1&y=2", "http://news.example/<b>", "https://news.example/a|b",
    "javascript:alert(1)", "data:text/html,<script>", "https://news.example/\n",
    "https://n.example/a b", "//evil.example/", "https://", "https://ok.example/>"]))


@st.composite
def alerts_(draw: st.DrawFn) -> Alert:
    digest = draw(st.lists(st.builds(
        DigestItem, alert_id=st.just("d"), story_id=st.just("s"), title=hostile, url=urls_,
        source=hostile, outlets=st.integers(1, 5), is_update=st.booleans()), max_size=4))
    return make_alert(
        title=draw(hostile), url=draw(urls_), source=draw(hostile),
        subscription_name=draw(hostile), evidence=draw(st.lists(hostile, max_size=4)),
        topics=draw(st.lists(hostile, max_size=2)), entities=draw(st.lists(hostile, max_size=2)),
        outlets=draw(st.integers(1, 5)), is_update=draw(st.booleans()), digest=digest,
        story_id=draw(st.sampled_from(["st", "a/b?c", "<!channel>"])))


def allowed_targets(alert: Alert) -> set[str]:
    """The only URLs a message may link to: the story's, the digest's, the dashboard's."""
    targets = {safe_url(alert.url), *(safe_url(item.url) for item in alert.digest)}
    from urllib.parse import quote
    targets.add(f"{DASHBOARD}/stories/{quote(alert.story_id, safe='')}")
    return {target for target in targets if target}


LINK = re.compile(r"<([^<>]*)>")


def check_mrkdwn(text: str, alert: Alert, *, truncated: bool) -> None:
    """Every <...> is a link of ours with a safe label; no other < or > is left."""
    for inside in LINK.findall(text):
        assert not inside.startswith(("!", "@", "#")), inside
        target, bar, label = inside.partition("|")
        assert bar and "|" not in label, inside
        assert target in allowed_targets(alert), target
        assert target.startswith(("http://", "https://"))
    rest = re.sub(r"(?m)^> ", "", LINK.sub("", text))  # "> " starts our evidence quotes
    if truncated and "<" in rest:  # the cut may fall inside a link: it stays unclosed text
        rest = rest[:rest.rindex("<")]
    assert "<" not in rest and ">" not in rest, rest


def slack_decoded(text: str) -> str:
    """What Slack displays: its three entities decoded once, in one pass."""
    return re.sub(r"&(lt|gt|amp);", lambda m: {"lt": "<", "gt": ">", "amp": "&"}[m[1]], text)


@given(alerts_())
def test_no_feed_text_can_ping_or_link_in_a_slack_payload(alert: Alert) -> None:
    payload = slack_message(alert, DASHBOARD)
    assert set(payload) == {"text", "unfurl_links", "blocks"}
    assert payload["unfurl_links"] is False
    assert "<" not in payload["text"] and ">" not in payload["text"]
    [block] = payload["blocks"]  # type: ignore[misc]
    text = block["text"]["text"]
    assert block["text"]["type"] == "mrkdwn"
    check_mrkdwn(text, alert, truncated=len(text) == 2900)


@given(alerts_())
def test_slack_shows_the_feed_text_itself_decoded_exactly_once(alert: Alert) -> None:
    payload = slack_message(alert, DASHBOARD)
    if alert.digest:
        expected = plain(alert.title)
    else:
        expected = ("Update: " if alert.is_update else "") + (
            plain(alert.title)[:MAX_TITLE] or "(untitled story)")
    assert slack_decoded(str(payload["text"])) == expected


def _received_checks(body: Any, alert: Alert) -> None:
    assert "link_names" not in body and body.get("parse") in (None, "none")
    assert "<" not in body["text"] and ">" not in body["text"]
    text = body["blocks"][0]["text"]["text"]
    check_mrkdwn(text, alert, truncated=len(text) == 2900)


HOSTILE_ALERT = dict(
    title="<!channel> &lt;!here&gt; <@U024BE7LH> <https://evil.example|https://bank.example>",
    url="https://news.example/a?x=1&y=2", source="<#C024BE7LR|general> &amp;lt;!everyone&amp;gt;",
    subscription_name="<!subteam^SAZ94GDB8>", evidence=["entity:x: <!here> why"],
    entities=["<!channel>"], topics=["<@U1>"])


async def test_the_webhook_and_the_web_api_receive_no_mentions_or_forged_links() -> None:
    alert = make_alert(**HOSTILE_ALERT)
    async with SlackPeer() as slack, aiohttp.ClientSession() as session:
        await SlackWebhookNotifier("hook", slack.webhook_url("team"), session,
                                   dashboard_url=DASHBOARD).notify(alert)
        api = SlackApiNotifier("bot", slack.token, "C0123", session,
                               base_url=slack.api_base_url, dashboard_url=DASHBOARD)
        await api.notify(alert)
        webhook, web_api = await slack.wait_for_requests(2)
    for request in (webhook, web_api):
        _received_checks(request.json, alert)
        raw = request.raw.decode()
        for control in ("<!channel>", "<!here>", "<@U024BE7LH>", "<#C024BE7LR",
                        "<https://evil.example", "<!subteam", "<!everyone>"):
            assert control not in raw and json.dumps(control)[1:-1] not in raw
    text = web_api.json["blocks"][0]["text"]["text"]
    assert "<https://news.example/a?x=1&y=2|" in text
    assert "&amp;lt;!here&amp;gt;" in text  # shown as "&lt;!here&gt;": literal, not decoded
