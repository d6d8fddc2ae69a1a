"""Story assignment: syndicated copies of one article become one story."""

from wirewatch.streams.dedupe.engine import Doc, NearDupEngine, StoryAssignment
from wirewatch.streams.dedupe.index import MemoryStoryIndex, RedisStoryIndex
from wirewatch.streams.dedupe.service import StoryAssigner

__all__ = ["Doc", "MemoryStoryIndex", "NearDupEngine", "RedisStoryIndex", "StoryAssigner",
           "StoryAssignment"]
