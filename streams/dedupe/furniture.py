"""Page furniture: cookie and consent banners, sign-up and paywall prompts, "your IP is
blocked" pages, in the languages wirewatch reads. Never a story's own words.

A sentence is furniture when it names one of these things (cookies, consent, an IP address,
registering, subscribing, logging in, JavaScript, ad blockers) and speaks to the reader
("you", "Sie", "Państwo", ...), or is a bare button label ("OK", "Register Now"). News
sentences mention cookies or subscribers too, but do not address the reader, so they stay.
Dedupe sketches what is left: a page that is all furniture is too short to found or join a
story, whatever page it came from.
"""

from __future__ import annotations

import re

import ahocorasick_rs

# What furniture talks about (any case). Kept to words a news sentence rarely pairs with
# the second person.
_TOPIC = re.compile(
    r"cookie|privacy (?:policy|notice|settings)|datenschutz|prywatno|polityk|"
    r"\bip[- ]?(?:address|adresse)|adres\w* ip|not a robot|kein roboter|nie jestem robotem|"
    r"captcha|"
    r"subscri|newsletter|abonn|\babo\b|prenumer|"
    r"regist|anmeld|melden sie sich|einloggen|eingeloggt|log ?in|sign ?(?:up|in)|zaloguj|"
    r"zarejestr|zugang|pflichtfeld|"
    r"javascript|ad ?block|werbeblocker|"
    r"consent|einwillig|zustimm|zgod|"
    r"weiterlesen|weiterzulesen|continue reading|czytaj dalej|"
    r"e-?mail|inbox|posteingang|skrzynk|"
    r"free articles|articles each month|complimentary access|kostenlos|inhalte im monat|"
    r"plus-inhalte|darmow|bezpłatn",
    re.IGNORECASE)
# Furniture whoever it addresses: block pages, captchas, the thanks of a paywall.
_ALWAYS = re.compile(
    r"adres\w* ip|\bip[- ]?(?:address|adresse)\b|not a robot|kein roboter|"
    r"nie jestem robotem|captcha|thanks? (?:you )?for reading",
    re.IGNORECASE)
# The site itself named beside a furniture topic ("Diese Seite verwendet Cookies").
_SITE = re.compile(r"\b(?:website|web ?site|site|webseite|seite|witryn\w*|stron\w*|"
                   r"serwis\w*|portal\w*|browser\w*|przeglądar\w*)\b", re.IGNORECASE)
# Polish addresses the reader in the verb ("korzystasz", "zaznacz").
_POLISH_YOU = re.compile(r"\b(?:korzystasz|chcesz|zaznacz|kliknij|zgadzasz|akceptujesz|"
                         r"wyrażasz|przeczytasz|zapoznaj)\b", re.IGNORECASE)
# The reader addressed: second person, or the formal forms of German and Polish. Case
# matters for German ("Sie" is the reader, "sie" is she or they) and Polish ("Ci").
_READER = re.compile(
    r"\b(?:[Yy]ou|[Yy]our|[Yy]ou're|[Yy]ourself|YOU|YOUR)\b|"
    r"\b(?:Sie|Ihnen|Ihre[nmrs]?|Ihr|dich|dir|dein\w*)\b|"
    r"\b(?:[Pp]aństw\w*|Twó\w*|[Tt]woj\w*|Ci|Cię|cię)\b|"
    r"\b(?:[Vv]ous|[Vv]otre|[Vv]os)\b")
# Lower-case pieces of _TOPIC, _ALWAYS and _LABEL: a text containing none of them has no
# furniture, and one pass of a DFA over it says so (the regular expressions took 80 us a
# line on 3 KB articles: the dedupe stage's whole budget).
_PIECES = ahocorasick_rs.AhoCorasick([
    "cookie", "privacy", "datenschutz", "prywatno", "polityk", "adres ip", "adresu ip",
    "ip address", "ip-adress", "ip adress", "robot", "captcha", "subscri", "newsletter",
    "abonn", " abo", "abo-", "prenumer", "regist", "anmeld", "melden sie", "einlogg",
    "eingelogg", "log in", "login", "log-in", "sign up", "sign in", "zaloguj", "zarejestr",
    "zugang", "pflichtfeld", "javascript", "adblock", "ad block", "ad-block", "werbeblock",
    "consent", "einwillig", "zustimm", "zgod", "weiterle", "weiterzule", "continue reading",
    "czytaj", "e-mail", "email", "inbox", "posteingang", "skrzynk", "free articles",
    "free access", "articles each month", "complimentary", "kostenlos", "inhalte im monat",
    "plus-inhalte", "darmow", "bezpłatn", "for reading"],
    implementation=ahocorasick_rs.Implementation.DFA)


def _may_be_furniture(text: str) -> bool:
    return bool(_PIECES.find_matches_as_indexes(text.lower()))


# Bare labels of buttons and links, alone on their line.
_LABEL = re.compile(
    r"^(?:ok|okay|accept(?: all)?|agree|i agree|akzeptieren|zustimmen|einverstanden|"
    r"akceptuj[eę]?|zgadzam się|register now|sign up|subscribe(?: now| today)?|log ?in|"
    r"back to page|continue|weiter|dalej|more|mehr|więcej|show me|"
    r"nie jestem robotem|i'?m not a robot)[.!]?$",
    re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
MAX_LABEL_CHARS = 40
MIN_WORDS_IN_LINE = 4  # a shorter line naming furniture is a label or a heading of it


def is_furniture(sentence: str) -> bool:
    """Whether one sentence (or line) is page furniture, not news."""
    text = sentence.strip()
    if not text:
        return False
    if _LABEL.match(text) or _ALWAYS.search(text):
        return True
    if not _TOPIC.search(text):
        return False
    return bool(_READER.search(text) or _SITE.search(text) or _POLISH_YOU.search(text)) \
        or len(text.split()) < MIN_WORDS_IN_LINE


def strip_furniture(text: str) -> str:
    """The text without its furniture sentences; lines stay lines (lead anchors and the
    boilerplate model work on lines), and a line that was all furniture is dropped."""
    lines = text.splitlines()
    labels = [len(line) <= MAX_LABEL_CHARS and bool(_LABEL.match(line.strip()))
              for line in lines]
    if not any(labels) and not _may_be_furniture(text):
        return text  # the common case, checked in one pass
    kept = []
    for line, label in zip(lines, labels, strict=True):
        if label:
            continue
        if not _may_be_furniture(line):
            kept.append(line)
            continue
        sentences = [s for s in _SENTENCE.split(line) if not is_furniture(s)]
        if sentences:
            kept.append(" ".join(sentences))
    return "\n".join(kept)


MIN_NEWS_WORDS = 40  # fewer words left beside furniture: the page is all furniture
MIN_KEPT_SHARE = 0.4


def furniture_only(text: str, stripped: str | None = None) -> bool:
    """Whether the page is furniture with at most a scrap of news: what was left once its
    furniture sentences went is short and under half of it."""
    left = len((strip_furniture(text) if stripped is None else stripped).split())
    total = len(text.split())
    return left < total and left < MIN_NEWS_WORDS and left < MIN_KEPT_SHARE * total
