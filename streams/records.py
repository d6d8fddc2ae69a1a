"""Wire records of news.articles.v1, news.tagged.v1 and news.events.v1 (JSON, msgspec)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import msgspec
from wirewatch.alerts.records import Alert
from wirewatch.connectors.records import RawItem


class Article(msgspec.Struct, frozen=True, kw_only=True):
    """A normalised article with its story assignment (key: story_id)."""

    article_id: str
    story_id: str
    is_duplicate: bool
    duplicate_of: str | None
    similarity: float
    feed_id: str
    source: str
    url: str
    title: str
    text: str
    fetched_at: datetime
    published: datetime | None = None
    is_update: bool = False
    outlets: int = 1  # copies of the story seen so far, this one included
    # The event the story reports (added within v1: "" in records written before events).
    event_id: str = ""
    event_stories: int = 1  # stories of the event so far, this article's included
    # The article's language, ISO 639-1 ("und": not recognised); added within v1: "" in
    # records written before languages.
    lang: str = ""


class EntityTag(msgspec.Struct, frozen=True, kw_only=True):
    """A watched entity found in an article, with how central it is (0..1)."""

    id: str
    name: str
    type: str
    salience: float  # 1.0 in the title, 0.7 in the lead, 0.3-0.6 further down
    where: str = ""  # "title", "lead" or "body": the most prominent mention
    mentions: int = 0


class Evidence(msgspec.Struct, frozen=True, kw_only=True):
    """Why a tag fired: the matched term, where, and the words around it."""

    term: str
    field: str  # "title" or "body"
    snippet: str


class DiscoveredEntity(msgspec.Struct, frozen=True, kw_only=True):
    """A person, organisation or place the article names that no watched entity covers."""

    name: str
    type: str  # "person", "organization", "place" or "other"
    mentions: int
    salience: float  # as EntityTag's: 1.0 in the title, 0.7 in the lead, 0.3-0.6 further down
    company: str = ""  # the knowledge base's id when it is a listed company (to watch it)


class TaggedArticle(msgspec.Struct, frozen=True, kw_only=True):
    """An article with its topics and entities, and the words that made each tag."""

    article: Article
    topics: list[str]
    entities: list[EntityTag]
    evidence: dict[str, list[Evidence]] = {}  # tag (topic id or entity:id) -> why
    # Added within v1 (optional, [] in records written before discovery): old readers
    # ignore the key, new readers default it.
    discovered: list[DiscoveredEntity] = []


class EventUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """A story joined (or founded) an event: the payload of news.events.v1, keyed by event."""

    event_id: str
    story_id: str
    article_id: str
    title: str
    url: str
    source: str
    is_new_event: bool
    stories: int  # stories of the event so far, this one included
    similarity: float  # to the story it was matched with (0 for a new event)
    published: datetime


Record = TypeVar("Record", RawItem, Article, TaggedArticle, Alert, EventUpdate)

_encoder = msgspec.json.Encoder()
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def encode(record: msgspec.Struct) -> bytes:
    """Serialise any wire record to JSON bytes."""
    return _encoder.encode(record)


def decode(data: bytes, record_type: type[Record]) -> Record:
    """Parse and validate JSON bytes as `record_type` (raises msgspec.ValidationError)."""
    decoder = _decoders.get(record_type)
    if decoder is None:
        decoder = _decoders[record_type] = msgspec.json.Decoder(record_type)
    result: Record = decoder.decode(data)
    return result


def json_schemas() -> dict[str, Any]:
    """JSON Schemas of every public topic's records, for non-Python consumers."""
    types = (RawItem, Article, TaggedArticle, Alert, EventUpdate)
    schemas, components = msgspec.json.schema_components(types)
    return {"records": {t.__name__: s for t, s in zip(types, schemas, strict=True)},
            "$defs": components}
