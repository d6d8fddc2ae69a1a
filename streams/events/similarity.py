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


def _jaccard(shared: int, a: int, b: int) -> float:
    return shared / (a + b - shared) if a and b else 0.0


def features(a: Profile, b: Profile) -> list[float]:
    """The signals, in FEATURES order, each in [0, 1] (each set intersected once: this
    runs for every candidate of every new story)."""
    hours = abs(a.published - b.published) / 3600.0
    cosine = max(0.0, float(a.vector @ b.vector))
    english = a.lang == "en" and b.lang == "en"
    terms, names = len(a.terms & b.terms), len(a.names & b.names)
    smaller = min(len(a.terms), len(b.terms))
    return [
        cosine if english else 0.0,
        0.0 if english else cosine,
        _jaccard(terms, len(a.terms), len(b.terms)),
        terms / smaller if smaller else 0.0,
        _jaccard(names, len(a.names), len(b.names)),
        min(1.0, names / 5.0),
        _jaccard(len(a.numbers & b.numbers), len(a.numbers), len(b.numbers)),
        _jaccard(len(a.title_terms & b.title_terms), len(a.title_terms), len(b.title_terms)),
        min(1.0, hours / 72.0),
    ]


@dataclass(frozen=True)
class Weights:
    """One linear model: weights over FEATURES and a bias."""

    weights: tuple[float, ...]
    bias: float

    def score(self, values: list[float]) -> float:
        return self.bias + sum(w * x for w, x in zip(self.weights, values, strict=True))


@dataclass(frozen=True)
class EventModel:
    """Linear models over FEATURES predicting the raters' score, 1 (same event) ... 0
    (unrelated), clipped to [0, 1]: one for English pairs, where the embedding is strong,
    one for every other language; `threshold` is where "same event" starts."""

    english: Weights
    other: Weights
    threshold: float

    def similarity(self, a: Profile, b: Profile) -> float:
        """How much the two read as one event, in [0, 1]."""
        if a.lang != b.lang and UNKNOWN not in (a.lang, b.lang):
            return 0.0  # compared within a language: cross-language events are not matched
        model = self.english if a.lang == "en" and b.lang == "en" else self.other
        return min(1.0, max(0.0, model.score(features(a, b))))

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

        def weights(part: dict[str, object]) -> Weights:
            values = part["weights"]
            if not isinstance(values, list) or len(values) != len(FEATURES):
                raise ValueError(f"event model weights must be {len(FEATURES)} numbers")
            return Weights(tuple(float(w) for w in values), float(str(part["bias"])))

        return cls(weights(data["english"]), weights(data["other"]), float(data["threshold"]))
