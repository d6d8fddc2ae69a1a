"""Realistic raw items for benchmarks: wire stories of 2-4 KB, each carried by 1-4 outlets
in their own site chrome, some about watched companies and alerting topics.

Deterministic for a seed; no data files needed. `python bench/corpus.py 5` prints samples.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from wirewatch.connectors.records import RawItem

COMPANIES = ["OpenAI", "Microsoft", "Nvidia", "Apple", "Alphabet", "Amazon", "Meta",
             "Tesla", "Intel", "Oracle", "Salesforce", "Netflix"]
LEADS = {
    "earnings": "{c} reported quarterly earnings on {day} that beat analyst estimates, as "
                "revenue rose {n} percent to {m} billion dollars and net income climbed. "
                "Earnings per share were {e} dollars against forecasts of {f} dollars.",
    "leadership": "{c} said on {day} that its chief executive would step down at the end of "
                  "the year and that the board had named a successor, after months of "
                  "disagreement over strategy.",
    "acquisition": "{c} agreed on {day} to acquire a smaller rival for {m} billion dollars in "
                   "cash, the company said, in a deal that still needs regulatory approval.",
    "layoffs": "{c} will cut about {n} hundred jobs, the company said on {day}, as it "
               "reorganises its cloud division to reduce costs.",
    "safety": "{c} said on {day} it had formed a new AI safety team to study the risks of "
              "frontier models, led by a researcher who previously ran alignment work.",
    "other": "{c} opened a new office on {day} and said it would hire local staff for sales, "
             "support and partnerships over the coming months.",
}
FILLER = ("analysts said the results reflected strong demand across regions while investors "
          "watched margins closely and executives pointed to new products expected next "
          "year in markets where competition has grown and supply costs have eased "
          "according to people familiar with the plans who asked not to be named").split()
OUTLETS = ["wire.example", "markets.example", "techdaily.example", "finance.example",
           "newsroom.example", "business.example", "globe.example", "ledger.example"]
CHROME = ["<div class='nav'>Home | Markets | Tech | Opinion</div>",
          "<p>Subscribe to our newsletter for the day's top stories.</p>",
          "<p>We use cookies to improve your experience. Accept all cookies.</p>",
          "<p>Source link</p>", "<footer>Copyright the publisher. All rights reserved.</footer>"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


def _story(draw: random.Random, number: int) -> tuple[str, str]:
    kind = draw.choice(list(LEADS))
    company = draw.choice(COMPANIES)
    lead = LEADS[kind].format(c=company, day=draw.choice(DAYS), n=draw.randint(2, 40),
                              m=round(draw.uniform(1, 90), 1), e=round(draw.uniform(1, 5), 2),
                              f=round(draw.uniform(1, 5), 2))
    paragraphs = [lead]
    target = draw.randint(2000, 3800)
    while sum(len(p) for p in paragraphs) < target:
        words = draw.choices(FILLER, k=draw.randint(30, 60))
        paragraphs.append(f"{company} story {number}: " + " ".join(words).capitalize() + ".")
    title = f"{company} {kind} update {number}: " + " ".join(draw.choices(FILLER, k=6))
    return title, "".join(f"<p>{p}</p>" for p in paragraphs)


def raw_items(count: int, *, seed: int = 11, start: datetime | None = None,
              span: timedelta = timedelta(hours=24)) -> Iterator[RawItem]:
    """`count` items over `span` from `start`, in time order; stories have 1-4 copies."""
    draw = random.Random(seed)
    start = start or datetime(2026, 11, 1, tzinfo=UTC)
    step = span / max(count, 1)
    produced, number = 0, 0
    while produced < count:
        number += 1
        title, body = _story(draw, number)
        for outlet in draw.sample(OUTLETS, k=min(draw.choice([1, 1, 2, 3, 4]),
                                                  count - produced)):
            at = start + step * produced
            chrome = draw.sample(CHROME, k=2)
            yield RawItem(item_id=f"{outlet}-{number}", feed_id=outlet,
                          feed_url=f"https://{outlet}/rss", source=outlet,
                          url=f"https://{outlet}/{number}", title=title,
                          content=chrome[0] + body + chrome[1], fetched_at=at, published=at)
            produced += 1


if __name__ == "__main__":
    for item in raw_items(int(sys.argv[1]) if len(sys.argv) > 1 else 5):
        print(item.item_id, len(item.content), item.title[:80])
