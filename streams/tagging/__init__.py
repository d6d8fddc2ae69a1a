"""Tagging: topics by readable weighted rules, watched entities by alias and ticker."""

from wirewatch.streams.tagging.files import (
    Entity,
    TaxonomyError,
    Topic,
    load_entities,
    load_topics,
)
from wirewatch.streams.tagging.rules import RuleError, parse_rule
from wirewatch.streams.tagging.tagger import Tagger, Tags

__all__ = ["Entity", "RuleError", "Tagger", "Tags", "TaxonomyError", "Topic", "load_entities",
           "load_topics", "parse_rule"]
