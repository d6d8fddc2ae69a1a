"""A tagger that follows its files: edited rules and watchlists apply without a restart."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from wirewatch.alerts.vocabulary import Vocabulary
from wirewatch.streams.tagging.files import TaxonomyError
from wirewatch.streams.tagging.tagger import Tagger

log = logging.getLogger(__name__)

FileStamp = tuple[int, int] | None  # (mtime_ns, size), None when the file is absent


def _stamp(path: Path) -> FileStamp:
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return status.st_mtime_ns, status.st_size


class TaggerSource:
    """Builds the tagger from the user's files, rebuilding it when they change.

    Files are checked at most every `check_seconds` (a stat each). A file that breaks keeps
    the last good tagger running and is reported once per change; an absent file means the
    shipped defaults alone. The first load fails loudly instead: better not to start than to
    run with rules the user did not write.
    """

    def __init__(self, taxonomy: Sequence[Path] = (), watchlist: Sequence[Path] = (), *,
                 check_seconds: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.taxonomy, self.watchlist = list(taxonomy), list(watchlist)
        self.check_seconds = check_seconds
        self.clock = clock
        self.reloads = 0
        self.reload_errors = 0
        self.last_error: str | None = None
        self._stamps = self._current_stamps()
        self._tagger = self._build()
        self._checked_at = clock()
        self._vocabulary: tuple[Tagger, Vocabulary] | None = None

    def _current_stamps(self) -> list[FileStamp]:
        return [_stamp(path) for path in (*self.taxonomy, *self.watchlist)]

    def _build(self) -> Tagger:
        present = [path for path in self.taxonomy if path.exists()]
        watched = [path for path in self.watchlist if path.exists()]
        return Tagger.from_files(present, watched)

    def vocabulary(self) -> Vocabulary:
        """The topic and entity ids a subscription query may name, per the current rules."""
        tagger = self.current()
        if self._vocabulary is None or self._vocabulary[0] is not tagger:  # rules changed
            self._vocabulary = tagger, Vocabulary.of(
                (topic.id for topic in tagger.topics),
                {entity.id: (entity.name, *entity.aliases, *entity.tickers)
                 for entity in tagger.entities.values()})
        return self._vocabulary[1]

    def current(self) -> Tagger:
        """The tagger to use now: rebuilt first if a file changed since the last check."""
        now = self.clock()
        if now - self._checked_at < self.check_seconds:
            return self._tagger
        self._checked_at = now
        stamps = self._current_stamps()
        if stamps != self._stamps:
            self._stamps = stamps
            try:
                self._tagger = self._build()
            except TaxonomyError as exc:
                self.reload_errors += 1
                self.last_error = str(exc)
                log.error("tagging rules not reloaded, keeping the previous ones: %s", exc)
            else:
                self.reloads += 1
                self.last_error = None
                log.info("tagging rules reloaded: %d topics, %d entities",
                         len(self._tagger.topics), len(self._tagger.entities))
        return self._tagger
