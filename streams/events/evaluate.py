"""Quality of same-event scores against human ratings: correlation, precision and recall."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

SAME_EVENT_AT = 2.0  # a rating (1 = same event ... 4 = unrelated) at or below this: same


@dataclass(frozen=True)
class ScoredPair:
    lang: str
    similarity: float
    same_event: bool
    overall: float


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged, as Spearman's correlation needs."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=float)
    for value in np.unique(values):
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def pair_quality(pairs: Sequence[ScoredPair]) -> dict[str, Any]:
    """Pearson and Spearman of similarity against -overall, and the same-event decision's
    precision and recall, for English pairs and for all of them."""
    out: dict[str, Any] = {}
    for name, chosen in (("en", [p for p in pairs if p.lang == "en"]), ("all", list(pairs))):
        similarity = np.array([p.similarity for p in chosen])
        rating = -np.array([p.overall for p in chosen])
        truth = np.array([p.overall <= SAME_EVENT_AT for p in chosen], dtype=bool)
        said = np.array([p.same_event for p in chosen], dtype=bool)
        hits = int((truth & said).sum())
        pearson, spearman = _pearson(similarity, rating), _pearson(_ranks(similarity),
                                                                   _ranks(rating))
        out[name] = {
            "pairs": len(chosen),
            "pearson": None if pearson is None else round(pearson, 3),
            "spearman": None if spearman is None else round(spearman, 3),
            "precision": round(hits / int(said.sum()), 3) if said.any() else None,
            "recall": round(hits / int(truth.sum()), 3) if truth.any() else None}
    return out
