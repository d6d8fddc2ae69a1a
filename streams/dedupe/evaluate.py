"""Clustering quality: adjusted Rand index and pairwise precision/recall, per noise type."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from math import comb


@dataclass(frozen=True)
class Labelled:
    """One evaluated document: its true cluster, the story it was given, its noise ops."""

    doc_id: str
    cluster: str
    story: str
    ops: tuple[str, ...] = ()


def adjusted_rand_index(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """ARI of two labelings of the same items (Hubert and Arabie, 1985)."""
    n = len(truth)
    if n < 2:
        return 1.0
    pairs = Counter(zip(truth, predicted, strict=True))
    same_both = sum(comb(c, 2) for c in pairs.values())
    same_truth = sum(comb(c, 2) for c in Counter(truth).values())
    same_pred = sum(comb(c, 2) for c in Counter(predicted).values())
    expected = same_truth * same_pred / comb(n, 2)
    maximum = (same_truth + same_pred) / 2
    if maximum == expected:
        return 1.0
    return (same_both - expected) / (maximum - expected)


def summarise(docs: Sequence[Labelled]) -> dict[str, object]:
    truth = [d.cluster for d in docs]
    predicted = [d.story for d in docs]
    pairs = Counter(zip(truth, predicted, strict=True))
    true_positive = sum(comb(c, 2) for c in pairs.values())
    predicted_pairs = sum(comb(c, 2) for c in Counter(predicted).values())
    true_pairs = sum(comb(c, 2) for c in Counter(truth).values())
    precision = true_positive / predicted_pairs if predicted_pairs else 1.0
    recall = true_positive / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "documents": len(docs),
        "clusters": len(set(truth)),
        "stories": len(set(predicted)),
        "ari": round(adjusted_rand_index(truth, predicted), 4),
        "pairwise_precision": round(precision, 4),
        "pairwise_recall": round(recall, 4),
        "pairwise_f1": round(f1, 4),
        "recall_by_op": recall_by_op(docs),
    }


def recall_by_op(docs: Sequence[Labelled]) -> dict[str, dict[str, float | int]]:
    """For copies carrying each noise op: the share placed in their true cluster's story."""
    story_of_cluster: dict[str, Counter[str]] = defaultdict(Counter)
    for doc in docs:
        story_of_cluster[doc.cluster][doc.story] += 1
    majority = {cluster: stories.most_common(1)[0][0]
                for cluster, stories in story_of_cluster.items()}
    totals: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    for doc in docs:
        for op in doc.ops:
            totals[op] += 1
            hits[op] += doc.story == majority[doc.cluster]
    return {op: {"copies": totals[op], "recall": round(hits[op] / totals[op], 4)}
            for op in sorted(totals)}
