"""Discovery: the people, organisations and places an article names that nobody watches yet.

No model and no network: a name is a span of capitalised words ("Jan Leike", "Bank of
England"), and its type comes from evidence around it: an honorific or a title before it
("Mr", "chief executive", "Finance Minister"), a given name first (US Census list), an
organisation's suffix or head word ("Corp", "Ministry of ..."), a place list (GeoNames),
the surname standing alone later on ("... Leike said"), and the knowledge base of listed
companies (matched by the tagger's own scan, see wirewatch.streams.tagging.companies).
A span with no evidence is kept only when it recurs, as "other". Names a watched entity
covers are left out: they are in the article's entities already.

>>> found = Discoverer([]).discover("", "Chief executive Jane Roe said Acme Widgets Inc grew.")
>>> [(d.name, d.type) for d in found]
[('Acme Widgets Inc', 'organization'), ('Jane Roe', 'person')]
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from wirewatch.streams.records import DiscoveredEntity
from wirewatch.streams.tagging.files import DEFAULTS_DIR, Entity
from wirewatch.streams.tagging.text import LEAD_TOKENS, fold, words_of

NAMES_FILE = DEFAULTS_DIR / "names.json"
MAX_DISCOVERED = 12  # per article: the most salient; enough for trends, small on the wire
MAX_WORDS = 6  # longer runs of capitals are headlines or lists, not one name
# Names an article is about are named early: a 1 MB body read whole took seconds
MAX_BODY_CHARS = 20_000

# Two or more capitalised words (a word may be an initial, "J.", or end in a period that
# is then checked), joined by white space (wire copy wraps lines) or a
# lower-case particle (Bank of England, Barend du Plessis). It starts with a capital, so
# the regular-expression engine skips ahead to capitals: about 30 us per 3 KB article.
_WORD = r"[A-Z][A-Za-z'\u2019&.-]*"
_PARTICLE = r"(?:of|de|du|da|del|der|den|van|von|la|le|al|bin|y|for|on|and|&)"
_SPAN = re.compile(rf"{_WORD}(?:\s+(?:{_PARTICLE}\s+){{0,2}}{_WORD})+")
_INITIAL = re.compile(r"(?:[A-Z]\.)+")
_LEAD = re.compile(rf"\s*(?:\S+\s+){{{LEAD_TOKENS}}}")

HONORIFICS = frozenset("Mr Mrs Ms Miss Dr Sir Dame Lord Lady Prof Professor Rev Sen Rep Gov "
                       "Gen Col Capt Sheikh".split())
# A title before a name says it is a person's ("chief executive Sam Altman", "Finance
# Minister Edouard Balladur"); written capitalised it is part of the span and cut off.
TITLES = frozenset("""minister secretary chairman chairwoman chair president vice governor
chancellor director executive officer ceo cfo coo cto founder co-founder cofounder senator
congressman congresswoman representative ambassador spokesman spokeswoman spokesperson
analyst economist strategist leader premier king queen prince princess pope judge
admiral commissioner mayor treasurer deputy manager researcher scientist professor lawyer
attorney co-lead administrator envoy sheikh emir president-elect counsel reporter investor
trader""".split())
# An organisation's name ends in one of these, or starts with one before "of".
ORG_SUFFIXES = frozenset("""inc corp corporation co company ltd limited plc llc lp llp ag sa nv
se spa ab asa oyj gmbh kgaa group holdings holding bank bancorp banc trust fund funds partners
capital securities industries airlines airways motors systems technologies technology
pharmaceuticals pharma energy petroleum oil gas association institute university college
school agency ministry department commission council committee board court office party union
federation organization organisation authority exchange reserve foundation society service
services communications networks labs laboratories electric electronics insurance financial
investments resources mining steel chemical chemicals foods stores media entertainment
army navy police parliament congress senate assembly government administration bureau
cooperative league club team times journal post news press agency community system
banks markets advisors advisers associates brothers enterprises consultants publishers
supermarkets restaurants hotels properties realty petroleum telecom telecommunications
bancshares bankshares savings""".split())
ORG_HEADS = frozenset("""bank university ministry department bureau institute federation
commission council court house office agency board church federal national central royal
international united banco banque banca caisse compagnie societe credit""".split())
# A place's name often ends in one of these.
PLACE_SUFFIXES = frozenset("""basin river valley island islands sea ocean gulf bay mountains
province county state region peninsula strait canal desert""".split())
# Capitalised words that start sentences or fill headlines, not names.
STOP = frozenset("""The A An In On At But And Or If When While After Before As For From With By
Of To Under Over Since During This That These Those It Its He She They We I His Her Their Our
You Your My There Here Then Meanwhile However Also Last Next Earlier Later Today Yesterday
Tomorrow Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April
May June July August September October November December Reuter Said Says According Not No
Yes All Some Many Most Other Such Each Every Both Several Why What Who How Where Which Our
Shares Share Sales Net Profit Analysts Officials Sources Investors Traders Dealers Experts
Two Three Four Five Six Seven Eight Nine Ten One Second Third Former Current Chief
Read Share Exclusive Update Breaking Watch Opinion Analysis Photo Video Getty Images
Although Because Unless Until Though Whether Despite Without Within Between Among Against
Through Thus Still Yet So Now Even Only Just Instead Rather Otherwise Nevertheless Moreover
Furthermore Besides Overall Separately Asked Speaking Including Shr Shrs Revs Qtr Qtly
Qtrly Div Avg Mths Oper Year Note Record Pay Prior YEAR QTR NET""".split())
_JOINERS = frozenset({"of", "for", "on", "and", "&"})
_PARTICLES = frozenset("of de du da del der den van von la le al bin y for on and &".split())
_JOINS_AFTER = ORG_SUFFIXES | ORG_HEADS
# Any word that makes a span more than one plain name, checked in one set operation.
_SPECIAL = STOP | HONORIFICS | _JOINERS | {variant for title in TITLES for variant in (
    title, title.capitalize(), title.upper())}
_NOT_SURNAMES = ORG_SUFFIXES | ORG_HEADS | {word.lower() for word in STOP}
_ADJECTIVE_ENDINGS = ("ian", "ean", "ese", "ish", "can", "german", "french", "dutch", "thai")
CONTEXT_CHARS = 30
MAX_READINGS = 50_000  # looked at before a span for a lower-case title


@dataclass(frozen=True)
class Lexicon:
    """Given names and place names (streams/defaults/names.json, built with the companies)."""

    given_names: frozenset[str]
    places: frozenset[str]


@functools.cache
def lexicon(path: Path = NAMES_FILE) -> Lexicon:
    document = json.loads(path.read_text(encoding="utf-8"))
    return Lexicon(frozenset(document["given_names"]), frozenset(document["places"]))


_Reading = tuple[int, tuple[str, ...], str, str]  # offset in the span, key, name, type


@dataclass
class _Found:
    name: str
    type: str
    first: tuple[int, int]  # field (0 title, 1 body), character offset


class Discoverer:
    """Finds unwatched names in a title and body; pure once built."""

    def __init__(self, watched: Iterable[Entity], names: Lexicon | None = None) -> None:
        self.names = names or lexicon()
        covered: set[tuple[str, ...]] = set()
        for entity in watched:
            for alias in (entity.name, *entity.aliases, *entity.ambiguous_aliases):
                words = tuple(words_of(alias))
                if words:
                    covered.add(words)
        self.covered = frozenset(covered)
        self._lengths = sorted({len(words) for words in covered})
        # Names recur from article to article ("Federal Reserve"): a span's reading is kept.
        self._readings: dict[tuple[str, bool], list[_Reading]] = {}

    def discover(self, title: str, body: str, known: Sequence[DiscoveredEntity] = (),
                 known_words: Iterable[tuple[str, ...]] = ()) -> list[DiscoveredEntity]:
        """The unwatched names, most salient first. `known` are listed companies the
        tagger already found (their aliases, `known_words`, are not found again)."""
        known_set = frozenset(known_words)
        known_lengths = sorted({len(words) for words in known_set})
        found: dict[tuple[str, ...], _Found] = {}
        for field_index, text in enumerate((title, body[:MAX_BODY_CHARS])):
            if not text or text.isupper():  # an all-capitals headline has no case to read
                continue
            seen: set[str] = set()
            for span in _SPAN.findall(text):
                if span in seen:  # a name said again: counted below, classified once
                    continue
                seen.add(span)
                start = text.find(span)
                before = text[max(0, start - CONTEXT_CHARS):start].rsplit(None, 1)
                titled = bool(before) and before[-1].lower().rstrip(",") in TITLES
                for offset, key, name, kind in self._read(span, titled):
                    if known_set and _covered(key, known_set, known_lengths):
                        continue
                    if key not in found:
                        found[key] = _Found(name, kind, (field_index, start + offset))
                    elif found[key].type == "other":
                        found[key].type = kind
        results = list(known)
        # "Thomson McKinnon" after "Thomson McKinnon Inc" is the firm again, not a person.
        firms = {key[:length] for key, item in found.items() if item.type == "organization"
                 for length in range(1, len(key))}
        lead = _LEAD.match(body)
        lead_end = lead.end() if lead else len(body)  # where the LEAD_TOKENS-th word ends
        for key, item in found.items():
            if item.type != "organization" and key in firms:
                continue
            mentions = max(1, title.count(item.name) + body.count(item.name))
            if len(key) > 1 and item.type in ("person", "other"):
                surname = item.name.rsplit(" ", 1)[-1]
                alone = title.count(surname) + body.count(surname)  # substrings too: cheap
                if (item.type == "other" and alone > mentions and item.name[1:2].islower()
                        and len(key) <= 3 and _NOT_SURNAMES.isdisjoint(key)
                        and surname not in self.names.places):
                    item.type = "person"  # "Jan Leike ... Leike said": how news names people
                mentions = max(mentions, alone)
            if item.type == "other" and mentions < 2:
                continue  # no evidence and said once: too often a headline's words
            results.append(DiscoveredEntity(name=item.name, type=item.type, mentions=mentions,
                                            salience=_salience(lead_end, item.first,
                                                               mentions)))
        results.sort(key=lambda d: (-d.salience, -d.mentions, d.name))
        return results[:MAX_DISCOVERED]

    def _read(self, span: str, titled: bool) -> list[_Reading]:
        """The names in a span and their types, less those a watched entity covers."""
        readings = self._readings.get((span, titled))
        if readings is None:
            readings = []
            pieces = _segments(span, "person" if titled else "")
            for offset, words, evidence in _split_at_given_name(span, pieces,
                                                                self.names.given_names):
                name = " ".join(words)
                key = tuple(words_of(name))
                if key and not _covered(key, self.covered, self._lengths):
                    kind = _type_of(words, evidence, self.names)
                    if kind is not None:
                        readings.append((offset, key, name, kind))
            if len(self._readings) >= MAX_READINGS:
                self._readings.clear()  # bounded: a day of news has far fewer names
            self._readings[(span, titled)] = readings
        return readings


def _covered(key: tuple[str, ...], skip: frozenset[tuple[str, ...]], lengths: list[int]) -> bool:
    """Whether the name is, or contains, a watched alias or a found company's alias."""
    for length in lengths:
        if length > len(key):
            break
        for offset in range(len(key) - length + 1):
            if key[offset:offset + length] in skip:
                return True
    return False


def _segments(span: str, evidence: str) -> list[tuple[int, list[str], str]]:
    """A span split into candidate names: stop words and sentence ends cut it, titles and
    honorifics are taken off as evidence ("person"). Yields (offset, words, evidence)."""
    pieces: list[tuple[int, list[str], str]] = []
    words = span.split()
    if _SPECIAL.isdisjoint(words) and "." not in span and "'" not in span \
            and "\u2019" not in span:
        return [(0, words[:MAX_WORDS], evidence)]  # most spans: one name as it stands
    organisation = words[-1].rstrip(".").lower() in ORG_SUFFIXES
    words = []
    first = 0
    text = span

    def flush() -> None:
        nonlocal words, evidence
        while words and words[-1] in _PARTICLES:
            words.pop()
        if words:
            pieces.append((first, words, evidence))
        words, evidence = [], ""

    position = 0
    for raw in span.split():
        position = text.find(raw, position)
        word = raw.rstrip(".")
        if word.endswith(("'s", "\u2019s")):
            word, ends = word[:-2], True
        else:
            ends = raw.endswith(".") and not _INITIAL.fullmatch(raw) and word not in HONORIFICS
        if word in STOP or not word:
            flush()
            first = position + len(raw)
            continue
        joins = organisation if word in ("and", "&") else bool(
            words and words[-1].lower() in _JOINS_AFTER)
        if word in _JOINERS and not joins:
            # "Bank of England" is one name; "Jane Roe of Harvard University" is two;
            # "Harper and Row Publishers Inc" is one, "Jan Leike and Ilya Sutskever" two.
            flush()
            first = position + len(raw)
            position += len(raw)
            continue
        if word in HONORIFICS and not words:
            evidence, first = "person", position + len(raw)
        elif word.lower() in TITLES:
            words, evidence, first = [], "person", position + len(raw)
        else:
            if not words:
                first = position
            words.append(word if not _INITIAL.fullmatch(raw) else raw)
        if ends:
            flush()
            first = position + len(raw)
        position += len(raw)
    flush()
    return [(offset, piece[:MAX_WORDS], why) for offset, piece, why in pieces
            if len(piece) > 1 or why == "person"]


def _split_at_given_name(span: str, pieces: list[tuple[int, list[str], str]],
                         given: frozenset[str]) -> list[tuple[int, list[str], str]]:
    """"Bank of England Robin Leigh-Pemberton" is an organisation, then a person: a name
    that starts with a given name inside a longer span is cut off from what precedes it."""
    result = []
    for offset, words, evidence in pieces:
        cut = next((i for i in range(1, len(words) - 1)
                    if words[i] in given and words[i - 1] not in given
                    and words[i - 1] not in _PARTICLES), 0)
        if cut and len(words) >= 3 and words[-1].lower() not in ORG_SUFFIXES:
            tail = span.find(words[cut], offset)
            result += [(offset, words[:cut], ""), (tail, words[cut:], "person")]
        else:
            result.append((offset, words, evidence))
    return [(o, w, e) for o, w, e in result if len(w) > 1 or e == "person"]


def _type_of(words: list[str], evidence: str, names: Lexicon) -> str | None:
    last, head = words[-1].lower(), words[0].lower()
    if last in ORG_SUFFIXES:
        return "organization"
    name = fold(" ".join(words))
    if name in names.places or (last in PLACE_SUFFIXES and len(words) > 1):
        return "place"
    if head in ORG_HEADS and len(words) > 1:
        return "organization"
    initial = len(words[0]) == 2 and words[0][1] == "."  # "T. Boone Pickens"
    if evidence == "person" or ((words[0] in names.given_names or initial) and len(words) <= 4):
        return "person" if all(w[:1].isupper() or w.islower() for w in words) else None
    if len(words) == 1 or last.endswith(_ADJECTIVE_ENDINGS):
        return None  # "Latin American", "West German": a description, not a name
    return "other"


def _salience(lead_end: int, first: tuple[int, int], mentions: int) -> float:
    """As a watched entity's: 1.0 in the title, 0.7 in the lead, 0.3 + 0.1 a mention after."""
    field_index, offset = first
    if field_index == 0:
        return 1.0
    if offset < lead_end:
        return 0.7
    return round(0.3 + 0.1 * min(mentions - 1, 3), 1)
