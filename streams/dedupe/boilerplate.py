"""Learn each site's boilerplate: short lines that recur across many of its articles."""

from __future__ import annotations

import zlib
from operator import itemgetter

MAX_BOILERPLATE_CHARS = 160  # furniture is short; story paragraphs are long
MIN_ARTICLES = 5  # seen in this many of one site's articles before it counts as furniture
MAX_LINES_PER_SITE = 50_000  # beyond this, the site's least recurrent half is forgotten
# Lines remembered over all sites (~100 bytes each): a worker reading thousands of sites
# would otherwise grow by each one's 50,000 (bench/soak.py saw +1.7 MB a minute with 8).
# Past it the sites not seen for longest are forgotten: five articles relearn a site.
MAX_LINES = 300_000


def line_key(line: str) -> int:
    return zlib.crc32(" ".join(line.lower().split()).encode())


class BoilerplateModel:
    """Counts, per site, in how many articles each short line occurs.

    A story's own lines occur once per site (or a few times, as it is updated), so per-site
    counts never mistake them for furniture, however widely the story is syndicated.
    """

    def __init__(self, min_articles: int = MIN_ARTICLES, max_lines: int = MAX_LINES) -> None:
        self.min_articles = min_articles
        self.max_lines = max_lines
        self._counts: dict[str, dict[int, int]] = {}  # in order of last observation
        self._lines = 0

    @staticmethod
    def keys(lines: list[str]) -> list[int | None]:
        """Each line's key, or None for a line too long to be furniture."""
        return [line_key(line) if len(line) <= MAX_BOILERPLATE_CHARS else None
                for line in lines]

    def observe(self, site: str, keys: list[int | None]) -> None:
        counts = self._counts.pop(site, None) or {}
        self._counts[site] = counts  # the most recently observed site goes last
        before = len(counts)
        for key in set(keys):
            if key is not None:
                counts[key] = counts.get(key, 0) + 1
        if len(counts) > MAX_LINES_PER_SITE:
            # Headlines and other one-off lines would grow the model forever; furniture
            # recurs in every article, so the most recurrent half survives. Half, not just
            # under the cap: a site whose lines mostly recur (updated stories) would otherwise
            # be pruned again on every article, a 50,000-line rebuild each time (a 25-minute
            # bench/soak.py run fell behind its load once a site reached the cap).
            ranked = sorted(counts.items(), key=itemgetter(1), reverse=True)
            counts = self._counts[site] = dict(ranked[:MAX_LINES_PER_SITE // 2])
        self._lines += len(counts) - before
        while self._lines > self.max_lines and len(self._counts) > 1:
            oldest = next(iter(self._counts))
            self._lines -= len(self._counts.pop(oldest))

    @property
    def lines(self) -> int:
        """Lines remembered over all sites."""
        return self._lines

    def strip(self, site: str, lines: list[str], keys: list[int | None]) -> list[str]:
        """The lines that carry the story, without the furniture learned for the site.

        Generic chrome (cookie banners, "Read more", ...) is already gone: normalise_text
        removes it before any stage sees the text.
        """
        counts = self._counts.get(site)
        if not counts:
            return lines
        return [line for line, key in zip(lines, keys, strict=True)
                if key is None or counts.get(key, 0) < self.min_articles]
