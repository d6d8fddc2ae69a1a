"""Story assignment: syndicated copies of one article become one story."""

from streams.dedupe.exact import ExactDedupe, StoryAssignment, fingerprints

__all__ = ["ExactDedupe", "StoryAssignment", "fingerprints"]
