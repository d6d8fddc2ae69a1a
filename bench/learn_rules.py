"""Learn weighted rules for a topic from labelled articles, as taxonomy YAML.

A logistic regression over word and word-pair presence, title and body apart, with an L1
penalty so few terms survive; word pairs found in more than --max-pair-df of the documents
("of the", "mln dlrs") are left out, because every such rule is an automaton match in most
articles the tagger reads and the single words already carry their signal. Each surviving
term becomes one rule (`title:"shr"`, weight 2.31) and the intercept becomes the threshold.
The tagger adds the weights of the rules that match, which is exactly this model's decision
function. Prints five-fold cross-validated precision/recall/F1 (to stderr) and the rules
(to stdout).

Needs scikit-learn (`pip install -e '.[bench]'`) and the labelled data (Reuters-21578
ModApte training split under ../shared/data, research licence: read, never copied).
Usage: python bench/learn_rules.py LABEL [--data PATH] [--c 0.5] [--min-df 5]
                                     [--max-pair-df 0.05]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

from wirewatch.streams.tagging.text import fold, tokenise

DEFAULT_DATA = (Path(__file__).resolve().parents[2] / "shared" / "data"
                / "reuters-modapte-train.jsonl.gz")


def features(title: str, body: str) -> set[str]:
    found: set[str] = set()
    for scope, text in (("title", title), ("body", body)):
        words = tokenise(fold(text))
        found.update(f"{scope}\t{w}" for w in words)
        found.update(f"{scope}\t{a} {b}" for a, b in zip(words, words[1:], strict=False))
    return found


def rule_yaml(feature: str, weight: float) -> str:
    scope, words = feature.split("\t")
    return f"      - {{match: '{scope}:\"{words}\"', weight: {weight:.2f}}}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("label")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--c", type=float, default=0.5, help="inverse L1 strength")
    parser.add_argument("--min-df", type=int, default=5)
    parser.add_argument("--max-pair-df", type=float, default=0.05,
                        help="leave out word pairs in more than this share of documents")
    args = parser.parse_args()
    if not args.data.exists():
        print(json.dumps({"skipped": f"{args.data} not found (research data is not shipped)"}))
        return
    import numpy as np
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import precision_recall_fscore_support
    from sklearn.model_selection import cross_val_predict

    with gzip.open(args.data, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    labels = [args.label in row["topics"] for row in rows]
    vectoriser = CountVectorizer(analyzer=lambda row: features(row["title"], row["body"]),
                                 binary=True, min_df=args.min_df)
    matrix = vectoriser.fit_transform(rows)
    names = vectoriser.get_feature_names_out()
    share = np.asarray(matrix.sum(axis=0)).ravel() / len(rows)
    kept = np.flatnonzero([" " not in name or df <= args.max_pair_df
                           for name, df in zip(names, share, strict=True)])
    matrix, names = matrix[:, kept], names[kept]
    model = LogisticRegression(l1_ratio=1, solver="liblinear", C=args.c, max_iter=1000)
    predicted = cross_val_predict(model, matrix, labels, cv=5)
    precision, recall, f1, _ = precision_recall_fscore_support(labels, predicted,
                                                               average="binary")
    model.fit(matrix, labels)
    weights = sorted(((w, n) for w, n in zip(model.coef_[0], names, strict=True)
                      if abs(w) >= 0.005), key=lambda pair: -abs(pair[0]))
    print(json.dumps({"label": args.label, "documents": len(rows), "rules": len(weights),
                      "threshold": round(-model.intercept_[0], 2),
                      "cv5_precision": round(precision, 4), "cv5_recall": round(recall, 4),
                      "cv5_f1": round(f1, 4)}), file=sys.stderr)
    print(f"    threshold: {-model.intercept_[0]:.2f}")
    print("    rules:")
    for weight, name in weights:
        print(rule_yaml(name, weight))


if __name__ == "__main__":
    main()
