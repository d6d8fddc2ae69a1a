"""Story assignment: the first-seen copy of an article founds a story, later copies join it.

This engine recognises exact copies (same canonical URL, or the same text once site chrome is
stripped); every claim is one atomic Redis script, so concurrent workers agree on one story.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import redis.asyncio as aioredis

_WORDS = re.compile(r"[a-z0-9]+")

# KEYS[1] = the article's own key, KEYS[2..] = its fingerprint keys; ARGV = article id, ttl.
# Returns the story id: remembered for the article, else the owner of any fingerprint,
# else the article itself (and it claims every fingerprint).
_CLAIM = """
local known = redis.call('GET', KEYS[1])
if known then return known end
local story = false
for i = 2, #KEYS do
  story = redis.call('GET', KEYS[i])
  if story then break end
end
if not story then story = ARGV[1] end
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], story, 'NX', 'EX', ARGV[2])
end
redis.call('SET', KEYS[1], story, 'EX', ARGV[2])
return story
"""


@dataclass(frozen=True)
class StoryAssignment:
    """Which story an article belongs to; `duplicate_of` is the story's first copy."""

    story_id: str
    is_duplicate: bool
    duplicate_of: str | None
    similarity: float


def fingerprints(url: str, text: str) -> list[str]:
    """Exact-match keys of an article: its canonical URL and its word sequence."""
    keys = []
    if url:
        keys.append("url:" + hashlib.blake2b(url.encode(), digest_size=16).hexdigest())
    words = _WORDS.findall(text.lower())
    if len(words) >= 8:  # too short a text would merge unrelated stubs
        digest = hashlib.blake2b(" ".join(words).encode(), digest_size=16).hexdigest()
        keys.append("text:" + digest)
    return keys


class ExactDedupe:
    """Redis-backed story index with an expiry window; idempotent per article id."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "ww:",
                 window_seconds: float = 7 * 86400) -> None:
        self.client = client
        self.prefix = prefix
        self.window_seconds = int(window_seconds)
        self._claim = client.register_script(_CLAIM)

    async def assign(self, article_id: str, url: str, text: str) -> StoryAssignment:
        keys = [f"{self.prefix}dedupe:article:{article_id}"]
        keys += [f"{self.prefix}dedupe:{key}" for key in fingerprints(url, text)]
        raw = await self._claim(keys=keys, args=[article_id, self.window_seconds])
        story_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        duplicate = story_id != article_id
        return StoryAssignment(story_id=story_id, is_duplicate=duplicate,
                               duplicate_of=story_id if duplicate else None,
                               similarity=1.0 if duplicate else 0.0)
