"""How likely two stories report one event: a few signals, weighed by a fitted model.

The weights come from `bench/fit_events.py` (fitted on the development pairs only, with
grouped cross-validation) and live in `streams/defaults/event_model.json`, readable and
small. The same function scores pairs for `wirewatch eval events` and assigns events in
the stream, so what is measured is what runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from wirewatch.streams.events.language import UNKNOWN
from wirewatch.streams.events.profile import Profile

# WordLlama is an English model: its cosine predicts same-event ratings well for English
# (Pearson 0.79 on events-dev) and barely elsewhere (0.26), so it is two signals.
FEATURES = ("embedding_english", "embedding_other", "terms", "terms_containment", "names",
            "names_shared", "numbers", "title_terms", "hours_apart")


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def _containment(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def features(a: Profile, b: Profile) -> list[float]:
    """The signals, in FEATURES order, each in [0, 1]."""
    hours = abs(a.published - b.published) / 3600.0
    cosine = max(0.0, float(a.vector @ b.vector))
    english = a.lang == "en" and b.lang == "en"
    return [
        cosine if english else 0.0,
        0.0 if english else cosine,
        _jaccard(a.terms, b.terms),
        _containment(a.terms, b.terms),
        _jaccard(a.names, b.names),
        min(1.0, len(a.names & b.names) / 5.0),
        _jaccard(a.numbers, b.numbers),
        _jaccard(a.title_terms, b.title_terms),
        min(1.0, hours / 72.0),
    ]


@dataclass(frozen=True)
class EventModel:
    """A linear model over FEATURES predicting the raters' score, 1 (same event) ... 0
    (unrelated), clipped to [0, 1]; `threshold` is where "same event" starts."""

    weights: tuple[float, ...]
    bias: float
    threshold: float

    def similarity(self, a: Profile, b: Profile) -> float:
        """How much the two read as one event, in [0, 1]."""
        if a.lang != b.lang and UNKNOWN not in (a.lang, b.lang):
            return 0.0  # compared within a language: cross-language events are not matched
        score = self.bias + sum(w * x for w, x in zip(self.weights, features(a, b),
                                                      strict=True))
        return min(1.0, max(0.0, score))

    def same_event(self, similarity: float) -> bool:
        return similarity >= self.threshold

    @classmethod
    def load(cls, path: Path | None = None) -> EventModel:
        """The shipped model, or one written by bench/fit_events.py."""
        text = (path.read_text() if path is not None else
                resources.files("wirewatch.streams").joinpath(
                    "defaults/event_model.json").read_text())
        data = json.loads(text)
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"event model features {data['features']} are not {FEATURES}")
        return cls(tuple(float(w) for w in data["weights"]), float(data["bias"]),
                   float(data["threshold"]))
