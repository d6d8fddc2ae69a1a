"""streams.dedupe.boilerplate: per-site furniture learned, and memory bounded over sites."""

from __future__ import annotations

from streams.dedupe.boilerplate import MIN_ARTICLES, BoilerplateModel


def test_a_line_on_enough_of_one_sites_articles_is_furniture_there_only() -> None:
    model = BoilerplateModel()
    lines = ["Subscribe to The Daily Planet", "The story itself"]
    for n in range(MIN_ARTICLES):
        model.observe("planet", model.keys([lines[0], f"story line {n}"]))
    keys = model.keys(lines)
    assert model.strip("planet", lines, keys) == ["The story itself"]
    assert model.strip("bugle", lines, keys) == lines  # another site learned nothing


def test_sites_not_seen_for_longest_are_forgotten_past_the_line_budget() -> None:
    model = BoilerplateModel(max_lines=100)
    for site in range(30):  # 30 sites x 10 distinct lines = 300 lines > 100
        model.observe(f"site{site}", model.keys([f"line {site}-{n}" for n in range(10)]))
    assert model.lines <= 100
    model.observe("site29", model.keys(["again"]))
    assert model.lines <= 100
    for _ in range(MIN_ARTICLES):  # a forgotten site learns its furniture again
        model.observe("site0", model.keys(["Share this article"]))
    lines = ["Share this article", "Body"]
    assert model.strip("site0", lines, model.keys(lines)) == ["Body"]
