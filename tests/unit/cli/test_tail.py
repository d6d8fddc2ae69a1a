"""`wirewatch tail`'s pure parts: decoding a record's value and the one-line summary."""

from __future__ import annotations

import pytest

from wirewatch.cli.tail import BadRecord, decode, summary

ALERT = {"alert_id": "a1", "subscription_id": "openai-leadership", "story_id": "wire-2",
         "title": "OpenAI names\nnew head", "created_at": "2026-12-01T08:00:00+00:00"}


@pytest.mark.parametrize(("stream", "document", "expected"), [
    ("alerts", ALERT, "2026-12-01T08:00:00+00:00  openai-leadership <- wire-2  OpenAI names "
                      "new head"),
    ("alerts", {**ALERT, "is_update": True, "update": 2},
     "2026-12-01T08:00:00+00:00  openai-leadership <- wire-2 (update 2)  OpenAI names new head"),
    ("stories", {"story_id": "s1", "is_duplicate": True, "title": "T",
                 "fetched_at": "2026-12-01T09:00:00+00:00"},
     "2026-12-01T09:00:00+00:00  s1 (copy)  T"),
    ("events", {"event_id": "e1", "is_new_event": True, "title": "\x1b[2JT",
                "published": "2026-12-01T10:00:00+00:00"},
     "2026-12-01T10:00:00+00:00  e1 (new)  [2JT"),
    ("events", {"title": "no id, no time"}, "2026-12-01T00:00:00+00:00  -  no id, no time"),
], ids=["alert", "update", "copy", "escape-stripped", "missing-fields"])
def test_summary_is_one_line_of_time_id_and_title(stream: str, document: dict[str, object],
                                                  expected: str) -> None:
    assert summary(stream, document, 1_796_083_200_000) == expected


@pytest.mark.parametrize(("value", "reason"), [
    (None, "tombstone"), (b"{not json", "not JSON"), (b"\xff\xfe", "not JSON"),
    (b"[1, 2]", "not a JSON object but list"),
], ids=["tombstone", "broken", "not-utf8", "array"])
def test_a_bad_value_is_refused_with_its_reason(value: bytes | None, reason: str) -> None:
    with pytest.raises(BadRecord, match=reason):
        decode(value)
    assert decode(b'{"a": 1}') == {"a": 1}
