"""Tagging quality: precision, recall and F1 per topic against labelled documents."""

from __future__ import annotations


def topic_quality(scored: list[tuple[set[str], set[str]]],
                  topics: list[str]) -> dict[str, dict[str, float | int]]:
    """Precision, recall and F1 of each topic that occurs in the labels."""
    summary: dict[str, dict[str, float | int]] = {}
    for topic in topics:
        tp = sum(1 for truth, found in scored if topic in truth and topic in found)
        fp = sum(1 for truth, found in scored if topic not in truth and topic in found)
        fn = sum(1 for truth, found in scored if topic in truth and topic not in found)
        if tp + fn == 0:
            continue  # not among the labels: nothing to score against
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        summary[topic] = {"labelled": tp + fn, "precision": round(precision, 4),
                          "recall": round(recall, 4), "f1": round(f1, 4)}
    return summary
