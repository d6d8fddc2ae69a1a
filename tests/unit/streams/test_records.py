"""Wire records: JSON round trips, strict decoding, and published schemas."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import msgspec
import pytest
from wirewatch.alerts.records import Alert
from wirewatch.connectors.records import RawItem
from wirewatch.streams.records import (
    Article,
    EntityTag,
    Evidence,
    TaggedArticle,
    decode,
    encode,
    json_schemas,
)

ARTICLE = Article(
    article_id="a1", story_id="a1", is_duplicate=False, duplicate_of=None, similarity=0.0,
    feed_id="f1", source="Wire", url="https://wire.example/1", title="T\u00e9st \u201cq\u201d",
    text="line one\nline two", fetched_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
)
TAGGED = TaggedArticle(
    article=ARTICLE, topics=["earnings"],
    entities=[EntityTag(id="microsoft", name="Microsoft", type="organization", salience=0.7,
                        where="lead", mentions=2)],
    evidence={"earnings": [Evidence(term="net income", field="title", snippet="Net income up")]},
)


@pytest.mark.parametrize("record", [
    ARTICLE,
    msgspec.structs.replace(ARTICLE, story_id="a0", is_duplicate=True, duplicate_of="a0",
                            similarity=1.0, is_update=True,
                            published=datetime(2026, 1, 1, tzinfo=UTC)),
    TAGGED,
    TaggedArticle(article=ARTICLE, topics=[], entities=[]),
])
def test_round_trip(record: Article | TaggedArticle) -> None:
    data = encode(record)
    assert isinstance(data, bytes)
    assert decode(data, type(record)) == record


def test_tagged_evidence_defaults_to_empty() -> None:
    payload = json.loads(encode(TAGGED))
    del payload["evidence"]
    assert decode(json.dumps(payload).encode(), TaggedArticle).evidence == {}


def _article_json(**changes: object) -> bytes:
    payload = json.loads(encode(ARTICLE))
    for key, value in changes.items():
        if value is ...:
            del payload[key]
        else:
            payload[key] = value
    return json.dumps(payload).encode()


@pytest.mark.parametrize(("data", "error", "message"), [
    (b"{not json", msgspec.DecodeError, "JSON"),
    (b"", msgspec.DecodeError, "truncated"),
    (b"[]", msgspec.ValidationError, "Expected `object`"),
    (_article_json(story_id=...), msgspec.ValidationError, "missing required field `story_id`"),
    (_article_json(similarity="high"), msgspec.ValidationError, "`$.similarity`"),
    (_article_json(fetched_at="yesterday"), msgspec.ValidationError, "`$.fetched_at`"),
    (_article_json(is_duplicate=None), msgspec.ValidationError, "`$.is_duplicate`"),
])
def test_decode_rejects_bad_articles(data: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message.replace("$", r"\$")):
        decode(data, Article)


def test_decode_rejects_a_bad_nested_record() -> None:
    payload = json.loads(encode(TAGGED))
    del payload["entities"][0]["salience"]
    with pytest.raises(msgspec.ValidationError, match=r"`\$.entities\[0\]`"):
        decode(json.dumps(payload).encode(), TaggedArticle)


def test_decode_ignores_unknown_fields() -> None:  # forward compatible with newer producers
    assert decode(_article_json(new_field=1), Article) == ARTICLE


def test_json_schemas_names_the_five_records() -> None:
    schemas = json_schemas()
    assert set(schemas["records"]) == {"RawItem", "Article", "TaggedArticle", "Alert",
                                       "EventUpdate"}
    for name in ("RawItem", "Article", "TaggedArticle", "Alert", "EntityTag"):
        assert name in schemas["$defs"]
    assert "story_id" in schemas["$defs"]["Article"]["required"]
    json.dumps(schemas)  # plain JSON, publishable as is


@pytest.mark.parametrize("record", [
    RawItem(item_id="i", feed_id="f", feed_url="https://x/rss", source="x", url="https://x/a",
            title="T", fetched_at=datetime(2026, 1, 1, tzinfo=UTC)),
    Alert(alert_id="a", subscription_id="s", subscription_name="S", owner="", channels=["c"],
          story_id="st", article_id="ar", title="T", url="u", source="x", topics=[],
          entities=[], created_at=datetime(2026, 1, 1, tzinfo=UTC)),
])
def test_encode_and_decode_work_for_every_record(record: RawItem | Alert) -> None:
    assert decode(encode(record), type(record)) == record


def test_records_the_stages_make_equal_their_round_trip() -> None:
    """The worker passes each stage's records on to the next undecoded (wirewatch.streams.app.Batch
    records): that is only the same as decoding the written bytes if a record equals its
    own round trip, as generated wire stories show here: new stories and copies, tags, and
    the alerts match makes of them, all compared field by field with their types."""
    import sys
    from pathlib import Path

    from wirewatch.alerts.matching import decide, matches
    from wirewatch.alerts.subscriptions import Subscription
    from wirewatch.streams.dedupe import StoryAssignment
    from wirewatch.streams.stages import build_article, clean_raw, now_utc, story_view, tag_article
    from wirewatch.streams.tagging import Tagger

    sys.path.insert(0, str(Path(__file__).parents[3] / "bench"))
    from corpus import raw_items

    def same(record: msgspec.Struct, record_type: type[msgspec.Struct]) -> None:
        again = decode(encode(record), record_type)
        assert again == record
        # == takes 1 for 1.0 and a tuple for nothing like a list: compare the types too
        assert msgspec.to_builtins(again) == msgspec.to_builtins(record)
        assert [type(v) for v in msgspec.structs.astuple(again)] == [
            type(v) for v in msgspec.structs.astuple(record)]

    tagger = Tagger.from_files()
    anything = Subscription.create(name="all", owner="ana", query="topic:earnings OR "
                                   "topic:mergers-acquisitions OR entity:microsoft")
    counts = {"articles": 0, "copies": 0, "tagged": 0, "alerts": 0}
    for position, item in enumerate(raw_items(200, seed=5)):
        same(item, RawItem)
        title, text = clean_raw(item)
        copy = position % 3 == 1  # every third joins an earlier story
        story = StoryAssignment("s0", is_duplicate=True, duplicate_of="s0",
                                similarity=0.873) if copy else StoryAssignment(
            item.item_id, is_duplicate=False, duplicate_of=None, similarity=0.0)
        article = build_article(item, title, text, story, outlets=2 if copy else 1)
        tagged = tag_article(article, tagger)
        same(article, Article)
        same(tagged, TaggedArticle)
        counts["articles"] += 1
        counts["copies"] += copy
        counts["tagged"] += bool(tagged.entities and tagged.evidence)
        view = story_view(tagged)
        held = matches(view, anything)
        if held is not None:
            decision = decide(view, anything, held, None, now=now_utc())
            assert decision is not None
            same(decision.alert, Alert)
            counts["alerts"] += 1
    assert counts["articles"] == 200 and counts["copies"] > 60
    assert counts["tagged"] > 20 and counts["alerts"] > 20  # tags and alerts were covered
