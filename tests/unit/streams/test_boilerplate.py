"""wirewatch.streams.dedupe.boilerplate: per-site furniture learned, and memory bounded over
sites."""

from __future__ import annotations

from wirewatch.streams.dedupe.boilerplate import MAX_LINES_PER_SITE, MIN_ARTICLES, BoilerplateModel


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


def test_a_site_past_its_line_cap_keeps_its_furniture_and_is_pruned_rarely() -> None:
    model = BoilerplateModel(max_lines=10 * MAX_LINES_PER_SITE)
    furniture = "Read more on The Daily Planet"
    prunes = 0
    # Every story line recurs (an update sends each story twice), so dropping the lines
    # seen once frees nothing: pruning must still shrink the site well below its cap.
    for article in range(MAX_LINES_PER_SITE):
        story = [f"story {article // 2} line {n}" for n in range(3)]
        before = model.lines
        model.observe("planet", model.keys([furniture, *story]))
        prunes += model.lines < before
    assert model.lines <= MAX_LINES_PER_SITE
    assert 1 <= prunes <= 6  # once per ~25,000 new lines, not on every article past the cap
    lines = [furniture, "Body"]
    assert model.strip("planet", lines, model.keys(lines)) == ["Body"]
