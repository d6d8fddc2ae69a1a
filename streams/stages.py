"""The pure(ish) work of each stream stage, callable from Faust agents and from batch jobs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from wirewatch.alerts.matching import StoryView
from wirewatch.connectors.records import RawItem
from wirewatch.streams.dedupe import StoryAssignment
from wirewatch.streams.events.outlets import DEFAULT_MAJOR_OUTLETS, is_major
from wirewatch.streams.events.service import Placed
from wirewatch.streams.normalise import normalise_text, normalise_title
from wirewatch.streams.records import Article, EventUpdate, TaggedArticle
from wirewatch.streams.tagging import Tagger, Tags


def clean_raw(raw: RawItem) -> tuple[str, str]:
    """Title and body text of a raw item, normalised."""
    return normalise_title(raw.title), normalise_text(raw.content or raw.summary)


def build_article(raw: RawItem, title: str, text: str, story: StoryAssignment,
                  outlets: int = 1, event_id: str = "", event_stories: int = 1,
                  lang: str = "") -> Article:
    return Article(
        article_id=raw.item_id, story_id=story.story_id, is_duplicate=story.is_duplicate,
        duplicate_of=story.duplicate_of, similarity=story.similarity, feed_id=raw.feed_id,
        source=raw.source, url=raw.url, title=title, text=text, fetched_at=raw.fetched_at,
        published=raw.published, is_update=raw.is_update, outlets=outlets,
        event_id=event_id or story.story_id, event_stories=event_stories, lang=lang,
    )


def event_update(article: Article, placed: Placed) -> EventUpdate:
    """What news.events.v1 says when a story founds or joins an event."""
    return EventUpdate(
        event_id=placed.event.event_id, story_id=article.story_id,
        article_id=article.article_id, title=article.title, url=article.url,
        source=article.source, is_new_event=placed.event.is_new, stories=placed.stories,
        similarity=placed.event.similarity,
        published=article.published or article.fetched_at)


def tag_article(article: Article, tagger: Tagger) -> TaggedArticle:
    return with_tags(article, tagger.tag(article.title, article.text, article.lang))


def with_tags(article: Article, tags: Tags) -> TaggedArticle:
    """The article with tags found for its title and text (the tagger needs no story, so a
    batch job may tag before its stories are assigned)."""
    return TaggedArticle(article=article, topics=tags.topics, entities=tags.entities,
                         evidence=tags.evidence, discovered=tags.discovered)


def story_view(tagged: TaggedArticle, majors: Sequence[str] = DEFAULT_MAJOR_OUTLETS,
               ) -> StoryView:
    article = tagged.article
    evidence = tuple(f"{tag}: {found[0].term} ({found[0].field}): {_clip(found[0].snippet)}"
                     for tag, found in tagged.evidence.items() if found)
    return StoryView(
        story_id=article.story_id, article_id=article.article_id, title=article.title,
        url=article.url, source=article.source, topics=tuple(tagged.topics),
        entities=tuple(entity.id for entity in tagged.entities),
        is_duplicate=article.is_duplicate, evidence=evidence[:4], outlets=article.outlets,
        salience={entity.id: entity.salience for entity in tagged.entities},
        is_update=article.is_update, event_id=article.event_id,
        event_stories=article.event_stories,
        major=is_major(article.source, article.url, majors), lang=article.lang,
    )


def _clip(snippet: str, limit: int = 120) -> str:
    return snippet if len(snippet) <= limit else snippet[:limit - 1].rstrip() + "…"


def now_utc() -> datetime:
    return datetime.now(UTC)
