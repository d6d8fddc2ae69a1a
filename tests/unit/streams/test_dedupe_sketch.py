"""The dedupe sketch: deterministic across processes, lead anchors, short texts, estimates."""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import sys

from wirewatch.streams.dedupe.sketch import (
    ANCHOR_SENTENCES,
    SKETCH_SIZE,
    Sketch,
    similarity,
    sketch,
    word_ids,
)

LEAD = ("Acme Corp agreed to buy Widget Works for 2.1 billion dollars on Tuesday. "
        "The deal gives Acme a foothold in industrial sensors across Europe. "
        "Shares of Widget Works rose 18 percent in early trading in Frankfurt.\n"
        "Analysts said regulators were unlikely to object to the combination.")


def _article(seed: int, sentences: int = 40) -> str:
    """Sentences of ten words drawn from a 5,000-word vocabulary: unrelated per seed."""
    draw = random.Random(seed)
    return " ".join(" ".join(f"w{draw.randrange(5000)}" for _ in range(10)).capitalize() + "."
                    for _ in range(sentences))


def test_sketch_is_the_same_in_another_process_with_another_hash_seed() -> None:
    code = ("import json, sys; from wirewatch.streams.dedupe.sketch import sketch; "
            "s = sketch(sys.argv[1]); print(json.dumps([s.shingles, s.bottom, s.anchors]))")
    runs = [json.loads(subprocess.run(
        [sys.executable, "-c", code, LEAD], check=True, capture_output=True, text=True,
        env={**os.environ, "PYTHONHASHSEED": seed}).stdout) for seed in ("1", "2")]
    here = sketch(LEAD)
    assert runs[0] == runs[1] == [here.shingles, list(here.bottom), list(here.anchors)]


def test_anchors_come_from_the_lead_sentences_in_order() -> None:
    first = sketch(LEAD)
    assert len(first.anchors) == 4  # three sentences on one line, one on the next
    # Dropping the second sentence drops exactly its anchor.
    dropped = sketch(LEAD.replace("The deal gives Acme a foothold in industrial sensors "
                                  "across Europe. ", ""))
    assert dropped.anchors == (first.anchors[0], *first.anchors[2:])
    assert len(sketch(_article(3)).anchors) == ANCHOR_SENTENCES


def test_punctuation_and_case_do_not_change_the_sketch() -> None:
    assert sketch(LEAD.upper().replace(",", " ,")) == sketch(LEAD)


def test_short_and_empty_texts() -> None:
    assert sketch("") == Sketch(shingles=0, bottom=(), anchors=())
    tiny = sketch("Rates unchanged")
    assert tiny.shingles == 1 and len(tiny.bottom) == 1 and tiny.anchors == ()
    assert similarity(tiny, sketch("")) == (0.0, 0.0)


def test_bottom_k_is_sorted_distinct_and_bounded() -> None:
    long = sketch(_article(7, sentences=200))
    assert len(long.bottom) == SKETCH_SIZE < long.shingles
    assert list(long.bottom) == sorted(set(long.bottom))
    assert all(0 <= value < 2**32 for value in long.bottom)


def test_similarity_estimates_jaccard_and_containment() -> None:
    full = sketch(_article(11, sentences=120))
    assert similarity(full, full) == (1.0, 1.0)
    text = _article(11, sentences=120)
    excerpt = sketch(text[: len(text) // 3])
    jaccard, containment = similarity(excerpt, full)
    assert 0.2 < jaccard < 0.5  # about a third of the shingles
    assert containment > 0.8  # but the excerpt is inside the full text
    other = sketch(_article(12, sentences=120))
    assert similarity(full, other) == (0.0, 0.0)


def _reference_words(text: str) -> list[str]:
    """The words word_ids hashes, the slow way: lower-case, ASCII punctuation separates."""
    return text.lower().translate(str.maketrans(
        {c: " " for c in string.punctuation})).split()


def test_word_ids_name_each_word_by_its_letters_alone() -> None:
    draw = random.Random(11)
    vocabulary = ["Acme", "acme", "ACME.", "Widget", "déjà", "vu", "Zürich", "2.1", "\x00",
                  "$MSFT", "naïve", "w1", "w11", "a"]
    texts = [" ".join(draw.choice(vocabulary) + draw.choice(["", ",", "\t", "\u00a0", "\n"])
                      for _ in range(draw.randrange(0, 400))) for _ in range(200)]
    texts.append("Acme " * 20_000)  # longer than the table of powers (64 KB)
    ids_of: dict[str, int] = {}
    for text in texts:
        words, ids = _reference_words(text), word_ids(text).tolist()
        assert len(ids) == len(words), text
        for word, word_id in zip(words, ids, strict=True):
            assert ids_of.setdefault(word, word_id) == word_id, word
    assert len(set(ids_of.values())) == len(ids_of)  # distinct words, distinct ids
