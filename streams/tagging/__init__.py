"""Tagging: topics by readable weighted rules, watched entities by alias and ticker."""

from streams.tagging.files import (
    Entity,
    TaxonomyError,
    Topic,
    load_entities,
    load_topics,
)
from streams.tagging.rules import RuleError, parse_rule
from streams.tagging.tagger import Tagger, Tags

__all__ = ["Entity", "RuleError", "Tagger", "Tags", "TaxonomyError", "Topic", "load_entities",
           "load_topics", "parse_rule"]
