"""Story assignment: syndicated copies of one article become one story."""

from streams.dedupe.engine import Doc, NearDupEngine, StoryAssignment
from streams.dedupe.index import MemoryStoryIndex, RedisStoryIndex
from streams.dedupe.service import StoryAssigner

__all__ = ["Doc", "MemoryStoryIndex", "NearDupEngine", "RedisStoryIndex", "StoryAssigner",
           "StoryAssignment"]
