# ruff: noqa: E501  (fixture prose keeps one sentence per line, as articles have)
"""The near-duplicate engine on hand-made syndicated copies and look-alike stories.

Fixtures are written here (not taken from the research data set): a wire story and the ways
small sites republish it, plus template stories that share most words but not their facts.
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from wirewatch.streams.dedupe import (
    Doc,
    MemoryStoryIndex,
    NearDupEngine,
    RedisStoryIndex,
    StoryAssignment,
)
from wirewatch.streams.dedupe.engine import (
    MIN_SAMPLE_JACCARD,
    Indexed,
    best_match,
    sample_keys,
)
from wirewatch.streams.dedupe.sketch import similarity, sketch
from wirewatch.streams.dedupe.stories import StoryStore
from wirewatch.streams.normalise import normalise_text

WIRE = """Harbor Freight Lines agrees to buy Pacific Cold Storage for $1.2 billion
Harbor Freight Lines Inc said on Tuesday it agreed to buy Pacific Cold Storage Corp for about $1.2 billion in cash, expanding its refrigerated warehouse network on the West Coast.
The deal values Pacific Cold Storage at $34 a share, a premium of 28 percent to its closing price on Monday, the companies said in a joint statement.
Harbor Freight chief executive Dana Whitfield said the purchase would add 41 warehouses and about 2,300 employees, and would lift earnings in the first full year after closing.
The boards of both companies have approved the transaction, which is expected to close in the third quarter subject to regulatory approval and a vote by Pacific Cold shareholders.
Pacific Cold Storage shares rose 25 percent in early trading, while Harbor Freight shares fell 2 percent.
Analysts at Keller Brothers said the price was full but the network would give Harbor Freight a stronger position with grocery chains."""

SENTENCES = WIRE.split("\n")


def copy_with_chrome(body: str) -> str:
    return "\n".join(["The Freight Desk", "Home | News | Logistics | Markets", "By Staff Writer",
                      "We use cookies to improve your experience. Accept all cookies", body,
                      "Source link", "Subscribe to our newsletter for daily logistics news"])


COPIES = {
    "site-chrome": copy_with_chrome(WIRE),
    "excerpt-read-more": "\n".join(SENTENCES[:3]) + "\nRead more",
    "ticker-tag": WIRE.replace("Harbor Freight Lines Inc said",
                               "Harbor Freight Lines Inc (NASDAQ:HFL) said"),
    "title-prefix": "EXCLUSIVE: " + WIRE,
    "dropped-sentences": "\n".join(SENTENCES[:2] + SENTENCES[3:5] + SENTENCES[6:]),
    "typography": WIRE.replace("Tuesday it", "Tuesday \u2014 it").replace("'", "\u2019")
                      .replace("about $1.2", "about\u00a0$1.2"),
    "html-and-chrome": "<div class='nav'>Home | News | Logistics</div>" + "".join(
        f"<p>{line}</p>" for line in SENTENCES) + "<p>Also read: Rates rise again</p>",
}

EARNINGS_A = """Northwind Tools quarterly profit rises on strong demand
Northwind Tools Corp said on Thursday its fourth-quarter net income rose to 84.1 million dollars, or 1.12 dollars per share, from 70.3 million dollars, or 94 cents per share, a year earlier.
Revenue rose 9 percent to 1.31 billion dollars, the company said.
The company said it expects full-year earnings of 4.80 to 5.00 dollars per share."""

EARNINGS_B = """Bluewater Pumps quarterly profit rises on strong demand
Bluewater Pumps Inc said on Thursday its fourth-quarter net income rose to 12.6 million dollars, or 41 cents per share, from 9.8 million dollars, or 33 cents per share, a year earlier.
Revenue rose 6 percent to 212.4 million dollars, the company said.
The company said it expects full-year earnings of 1.70 to 1.85 dollars per share."""

RATES_A = """Central bank of Norland raises key rate by a quarter point to 4.25 percent
The central bank of Norland raised its benchmark interest rate by 25 basis points to 4.25 percent on Wednesday, citing inflation that has stayed above its target for eighteen months.
Governor Ilse Marten said further increases could follow if wage growth did not slow.
Economists polled before the decision had expected the increase."""

RATES_B = """Central bank of Estavia holds key rate at 2.50 percent
The central bank of Estavia kept its benchmark interest rate at 2.50 percent on Wednesday, citing inflation that has stayed close to its target for six months.
Governor Paulo Serra said further cuts could follow if wage growth slowed.
Economists polled before the decision had expected the hold."""


def engine() -> NearDupEngine:
    return NearDupEngine(MemoryStoryIndex())


async def assign(eng: NearDupEngine, article_id: str, text: str,
                 site: str = "wire.example") -> StoryAssignment:
    return await eng.assign(article_id, site=site, text=normalise_text(text))


@pytest.mark.parametrize("kind", list(COPIES))
async def test_copy_joins_the_original_story(kind: str) -> None:
    eng = engine()
    original = await assign(eng, "wire-1", WIRE)
    copy = await assign(eng, f"copy-{kind}", COPIES[kind], site=f"{kind}.example")
    assert original == StoryAssignment("wire-1", False, None, 0.0)
    assert (copy.story_id, copy.is_duplicate, copy.duplicate_of) == ("wire-1", True, "wire-1")
    assert 0.6 <= copy.similarity <= 1.0


async def test_copy_seen_first_founds_the_story_and_the_original_joins_it() -> None:
    eng = engine()
    excerpt = await assign(eng, "excerpt", COPIES["excerpt-read-more"], site="blog.example")
    original = await assign(eng, "wire-1", WIRE)
    assert not excerpt.is_duplicate
    assert original.story_id == "excerpt" and original.is_duplicate


@pytest.mark.parametrize(("first", "second"), [
    pytest.param(EARNINGS_A, EARNINGS_B, id="earnings-blurbs-of-two-companies"),
    pytest.param(RATES_A, RATES_B, id="two-rate-decisions"),
])
async def test_template_stories_stay_apart(first: str, second: str) -> None:
    eng = engine()
    a = await assign(eng, "a", first)
    b = await assign(eng, "b", second)
    assert not a.is_duplicate and not b.is_duplicate
    assert a.story_id != b.story_id


async def test_a_mixed_article_never_chains_two_stories() -> None:
    eng = engine()
    first = await assign(eng, "x", EARNINGS_A)
    second = await assign(eng, "y", RATES_A)
    mixed = await assign(eng, "z", EARNINGS_A + "\n" + RATES_A)
    assert first.story_id == "x" and second.story_id == "y"
    assert mixed.story_id in {"x", "y"}  # joins one story at most
    again = await assign(eng, "y2", RATES_A, site="other.example")
    assert again.story_id == "y"  # the stories were never merged


async def test_assigning_the_same_article_twice_gives_the_same_answer() -> None:
    eng = engine()
    await assign(eng, "wire-1", WIRE)
    first = await assign(eng, "copy", COPIES["site-chrome"], site="c.example")
    second = await assign(eng, "copy", COPIES["site-chrome"], site="c.example")
    assert first == second


async def test_same_canonical_url_is_the_same_story_whatever_the_text() -> None:
    eng = engine()
    await eng.assign("a", site="s", text=normalise_text(EARNINGS_A), url_key="u1")
    edited = await eng.assign("b", site="s", text=normalise_text(RATES_A), url_key="u1")
    assert edited.story_id == "a"


async def test_short_texts_never_merge() -> None:
    eng = engine()
    await assign(eng, "a", "Markets closed higher today.")
    b = await assign(eng, "b", "Markets closed higher today.", site="other.example")
    assert not b.is_duplicate


async def test_a_batch_agrees_with_one_by_one() -> None:
    texts = [("wire-1", WIRE), ("e1", EARNINGS_A), *[(f"c-{k}", v) for k, v in COPIES.items()],
             ("e2", EARNINGS_B), ("r1", RATES_A), ("r2", RATES_B), ("wire-1", WIRE)]
    single = engine()
    one_by_one = [await assign(single, i, t, site=f"{i}.example") for i, t in texts]
    batched = await engine().assign_many(
        [Doc(i, f"{i}.example", normalise_text(t)) for i, t in texts])
    assert batched == one_by_one


async def test_learned_site_furniture_is_ignored() -> None:
    eng = engine()
    furniture = ["Pacific Freight Weekly - your logistics daily", "Top stories this week"]
    for n in range(6):  # the site's own unrelated stories teach it its furniture
        await assign(eng, f"site-{n}", "\n".join([*furniture, f"Unrelated story number {n} "
                     f"about port congestion in harbour {n} and the trucks waiting there."]),
                     site="weekly.example")
    short_excerpt = "\n".join([*furniture, *SENTENCES[:2]])
    await assign(eng, "wire-1", WIRE)
    copy = await assign(eng, "copy", short_excerpt, site="weekly.example")
    assert copy.story_id == "wire-1"


@pytest.mark.redis
@pytest.mark.parametrize("workers", [2, 4])
async def test_concurrent_workers_make_exactly_one_story(
        redis_server: str, unique: str, workers: int) -> None:
    """Copies of one article handled at the same instant by several workers: one story."""
    connections = [aioredis.Redis.from_url(redis_server) for _ in range(workers)]
    variants = list(COPIES.values()) + [WIRE]
    try:
        engines = [NearDupEngine(RedisStoryIndex(c, prefix=f"{unique}:", window_seconds=600))
                   for c in connections]
        start = asyncio.Event()

        async def worker(index: int) -> StoryAssignment:
            await start.wait()
            return await engines[index % workers].assign(
                f"copy-{index}", site=f"outlet{index}.example",
                text=normalise_text(variants[index % len(variants)]))

        tasks = [asyncio.create_task(worker(i)) for i in range(24)]
        await asyncio.sleep(0)
        start.set()
        results = await asyncio.gather(*tasks)
    finally:
        for connection in connections:
            await connection.aclose()
    assert len({r.story_id for r in results}) == 1
    founders = [r for r in results if not r.is_duplicate]
    assert len(founders) == 1
    assert all(r.duplicate_of == founders[0].story_id for r in results if r.is_duplicate)


@pytest.mark.redis
async def test_redis_index_expires_with_the_window(redis_client: aioredis.Redis,
                                                   unique: str) -> None:
    index = RedisStoryIndex(redis_client, prefix=f"{unique}:", window_seconds=120)
    await NearDupEngine(index).assign("a", site="s", text=normalise_text(WIRE), url_key="u")
    keys = [key async for key in redis_client.scan_iter(f"{index.prefix}*")]
    assert len(keys) >= 3  # the article, its anchors and its URL
    ttls = [await redis_client.ttl(key) for key in keys]
    assert all(0 < ttl <= 120 for ttl in ttls)


@pytest.mark.redis
async def test_story_store_keeps_outlets_once_and_the_longest_copy(
        redis_client: aioredis.Redis, unique: str) -> None:
    store = StoryStore(redis_client, prefix=f"{unique}:", window_seconds=600)
    assert await store.record_copy("s", "a", outlet="Wire", url="https://w/a", seen_at=100.0,
                                   text_length=900) == 1
    assert await store.record_copy("s", "b", outlet="Blog", url="https://b/b", seen_at=160.0,
                                   text_length=300) == 2
    assert await store.record_copy("s", "b", outlet="Blog", url="https://b/b", seen_at=999.0,
                                   text_length=300) == 2  # a replay adds nothing
    assert await store.record_copy("s", "c", outlet="Full", url="https://f/c", seen_at=200.0,
                                   text_length=1200) == 3
    assert await store.record_copy("s", "d", outlet="Early", url="https://e/d", seen_at=40.0,
                                   text_length=10) == 4  # arrived late, published first
    story = await store.load("s")
    assert story is not None
    assert story.canonical_id == "c"
    assert story.first_seen == 40.0
    assert [(c.outlet, c.lag_seconds) for c in story.copies] == [
        ("Early", 0.0), ("Wire", 60.0), ("Blog", 120.0), ("Full", 160.0)]
    assert await store.load("missing") is None


@pytest.mark.redis
async def test_redis_index_gives_the_same_answers_as_memory(redis_client: aioredis.Redis,
                                                            unique: str) -> None:
    texts = [("wire-1", WIRE, None), ("e1", EARNINGS_A, "u-e1"),
             *[(f"c-{k}", v, None) for k, v in COPIES.items()],
             ("e2", EARNINGS_B, None), ("e1-again", RATES_A, "u-e1"), ("r2", RATES_B, None)]
    docs = [Doc(i, f"{i}.example", normalise_text(t), u) for i, t, u in texts]
    in_memory = await engine().assign_many(docs)
    redis_engine = NearDupEngine(RedisStoryIndex(redis_client, prefix=f"{unique}:"))
    batched = await redis_engine.assign_many(docs[:5]) + await redis_engine.assign_many(docs[5:])
    one_by_one = [await NearDupEngine(RedisStoryIndex(redis_client, prefix=f"{unique}b:"))
                  .assign(d.article_id, site=d.site, text=d.text, url_key=d.url_key)
                  for d in docs]
    def stories(results: list[StoryAssignment]) -> list[tuple[str, bool]]:
        # Which copy of a story is the closest may differ with batch boundaries; the story not.
        return [(r.story_id, r.is_duplicate) for r in results]

    assert stories(batched) == stories(in_memory) == stories(one_by_one)
    assert in_memory[-2].story_id == "e1"  # same URL, edited text: same story


class RacingIndex:
    """A Redis index where another worker records `rival` between our lookup and our write."""

    def __init__(self, inner: RedisStoryIndex, rival: NearDupEngine, rival_doc: Doc) -> None:
        self.inner, self.rival, self.rival_doc = inner, rival, rival_doc
        self.raced = False

    async def lookup_many(self, queries):  # type: ignore[no-untyped-def]
        found = await self.inner.lookup_many(queries)
        if not self.raced:
            self.raced = True
            await self.rival.assign_many([self.rival_doc])
        return found

    async def add_many(self, pending, *, force=False):  # type: ignore[no-untyped-def]
        return await self.inner.add_many(pending, force=force)


@pytest.mark.redis
async def test_a_batch_racing_another_worker_leaves_no_orphan_story(
        redis_client: aioredis.Redis, unique: str) -> None:
    shared = dict(prefix=f"{unique}:", window_seconds=600)
    rival = NearDupEngine(RedisStoryIndex(redis_client, **shared))
    rival_doc = Doc("d0", "rival.example", normalise_text(COPIES["site-chrome"]))
    racing = RacingIndex(RedisStoryIndex(redis_client, **shared), rival, rival_doc)
    mine = NearDupEngine(racing)  # type: ignore[arg-type]
    results = await mine.assign_many([
        Doc("d1", "a.example", normalise_text(WIRE)),
        Doc("d2", "b.example", normalise_text(COPIES["ticker-tag"])),
    ])
    assert racing.raced
    assert [(r.story_id, r.is_duplicate) for r in results] == [("d0", True), ("d0", True)]
    stored = await RedisStoryIndex(redis_client, **shared).lookup_many(
        [("d1", None, (), ()), ("d2", None, (), ())])
    assert [known.story_id for known, _ in stored if known] == ["d0", "d0"]


@pytest.mark.redis
async def test_concurrent_batches_make_exactly_one_story(redis_server: str, unique: str) -> None:
    connections = [aioredis.Redis.from_url(redis_server) for _ in range(3)]
    variants = [WIRE, *COPIES.values()]
    try:
        engines = [NearDupEngine(RedisStoryIndex(c, prefix=f"{unique}:")) for c in connections]
        batches = [[Doc(f"w{w}-{i}", f"s{i}.example", normalise_text(variants[(i + w) % 8]))
                    for i in range(6)] for w in range(3)]
        results = await asyncio.gather(*(e.assign_many(b) for e, b in zip(engines, batches, strict=True)))
    finally:
        for connection in connections:
            await connection.aclose()
    flat = [r for batch in results for r in batch]
    assert len({r.story_id for r in flat}) == 1
    assert sum(not r.is_duplicate for r in flat) == 1


@pytest.mark.redis
async def test_story_store_records_a_batch_in_order(redis_client: aioredis.Redis,
                                                    unique: str) -> None:
    store = StoryStore(redis_client, prefix=f"{unique}:", window_seconds=600)
    seen_at = 1732822000.123456  # more digits than Lua prints: kept as given
    counts = await store.record_copies([
        ("s1", "a", "Wire", "https://w/a", seen_at, 500),
        ("s2", "x", "Wire", "https://w/x", 50.0, 100),
        ("s1", "b", "Blog", "https://b/b", seen_at + 5, 700),
        ("s1", "a", "Wire", "https://w/a", 10.0, 9999),  # the same copy again: no change
    ])
    assert counts == [1, 1, 2, 2]
    one = await store.load("s1")
    assert one is not None
    assert (one.first_seen, one.canonical_id) == (seen_at, "b")
    assert [(c.article_id, c.lag_seconds) for c in one.copies] == [("a", 0.0), ("b", 5.0)]
    assert await store.record_copies([]) == []
    assert 0 < await redis_client.ttl(f"{store.prefix}s2:copies") <= 600


# A wire story and a lightly edited copy in which every sentence, headline included, has a
# one-word change (and a bracketed abbreviation inserted): no lead sentence hashes alike,
# most words do.
CENTRAL_BANK = """China's central bank injects 800 billion yuan as liquidity tightens
BEIJING, Jan 3 - China's central bank said on Friday it would cut the amount of cash that banks must hold as reserves, releasing around 800 billion yuan in funds to support the slowing economy.
The People's Bank of China said the cut of 50 basis points would take effect on Jan. 6 and would apply to all banks, according to a statement posted on its website.
Analysts had widely expected the move after Premier Li Keqiang said last month that the government would use the tool to lower financing costs for smaller firms.
The reduction is the eighth since early 2018, and it comes as Beijing and Washington prepare to sign an initial trade deal later this month.
The central bank also said it would keep monetary policy prudent and flexible and would not flood the economy with stimulus.
Chinese stocks rose after the announcement, with the blue-chip index up 1.2 percent by midday."""
CENTRAL_BANK_EDITED = """China's central bank to inject 800 billion yuan as liquidity tightens
BEIJING, Jan 3 - China's central bank said on Friday it would cut the amount of cash that banks must hold as reserves, releasing around 800 billion yuan in liquidity to support the slowing economy.
The People's Bank of China (PBOC) said the cut of 50 basis points would take effect on Jan. 6 and would apply to all lenders, according to a statement posted on its website.
Analysts had widely anticipated the move after Premier Li Keqiang said last month that the government would use the tool to lower financing costs for smaller firms.
The reduction is the eighth since early 2018, and it comes as Beijing and Washington get ready to sign an initial trade deal later this month.
The central bank also said it would keep its monetary policy prudent and flexible and would not flood the economy with stimulus.
Chinese shares rose after the announcement, with the blue-chip index up 1.2 percent by midday."""


@pytest.mark.parametrize("make", [engine, lambda: NearDupEngine(MemoryStoryIndex())])
async def test_a_copy_with_every_lead_sentence_edited_joins(make) -> None:  # type: ignore[no-untyped-def]
    eng = make()
    original = await assign(eng, "pboc-1", CENTRAL_BANK)
    edited = await assign(eng, "pboc-2", CENTRAL_BANK_EDITED, site="markets.example")
    assert edited.story_id == original.story_id == "pboc-1" and edited.is_duplicate


def test_a_candidate_found_only_by_samples_must_be_nearly_equal() -> None:
    """Containment lets a short excerpt join through a shared lead sentence; found through
    sketch samples alone, a candidate needs Jaccard >= MIN_SAMPLE_JACCARD."""
    mine = sketch(normalise_text("\n".join(SENTENCES[:3])))
    theirs = sketch(normalise_text(WIRE))
    jaccard, containment = similarity(mine, theirs)
    assert jaccard < MIN_SAMPLE_JACCARD <= containment
    by_anchor = Indexed("wire", "wire", theirs)
    assert best_match(mine, [by_anchor]) is not None
    assert best_match(mine, [Indexed("wire", "wire", theirs, by_sample=True)]) is None
    assert by_anchor.merged(Indexed("wire", "wire", theirs, by_sample=True)).by_sample is False
    assert sample_keys(theirs) and len(sample_keys(theirs)) == 6
    assert sample_keys(sketch("too short")) == ()


COOKIE_WALL_DE = """OK
Wir setzen auf unserer Website Cookies und andere Technologien ein, um Ihnen den vollen Funktionsumfang unseres Angebotes anzubieten.
Zudem ermöglichen Cookies die Personalisierung von Inhalten und dienen der Ausspielung von Werbung.
Durch die weitere Nutzung der Website stimmen Sie der Verwendung von Cookies zu.
Mehr Informationen finden Sie in unserer Datenschutzerklärung."""
IP_BLOCK_PL = """Podejrzewamy, że ktoś nadużył adresu IP, z którego korzystasz.
Jeśli chcesz połączyć się z nami zaznacz "NIE JESTEM ROBOTEM".
Twój adres IP: 203.0.113.{n}"""
REGISTER_WALL_EN = """Once registered, you can:
- Read additional free articles each month
- Comment on articles and featured creative work
- Get our curated newsletters delivered to your inbox
Register Now
By registering you agree to our privacy policy, terms & conditions and to receive occasional emails from us."""


@pytest.mark.parametrize("wall", [COOKIE_WALL_DE, IP_BLOCK_PL, REGISTER_WALL_EN])
async def test_pages_of_furniture_never_found_or_join_a_story(wall: str) -> None:
    eng = engine()
    first = await assign(eng, "wall-1", wall.format(n=1), site="")
    second = await assign(eng, "wall-2", wall.format(n=2) + "\nBörsen im Plus.", site="")
    assert (first.story_id, second.story_id) == ("wall-1", "wall-2")
    assert not second.is_duplicate
    # A real article behind the same wall is its own story, and its copy still finds it.
    article = await assign(eng, "article", wall.format(n=3) + "\n" + WIRE, site="")
    copy = await assign(eng, "copy", COPIES["site-chrome"], site="")
    assert article.story_id == "article" and copy.story_id == "article"
