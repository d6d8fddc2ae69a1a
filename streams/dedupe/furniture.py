"""Page furniture: cookie and consent banners, sign-up and paywall prompts, "your IP is
blocked" pages, in English, German, French, Spanish, Italian, Dutch and Polish. Never a
story's own words.

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

# What furniture talks about, as lower-case literals matched by one DFA pass over the
# lower-cased sentence (as one case-insensitive regular expression over seven languages
# it cost 60-130 us a sentence), plus the few that need word boundaries. Kept to words a
# news sentence rarely pairs with the second person.
_TOPIC_WORDS = (
    "cookie", "privacy policy", "privacy notice", "privacy settings", "datenschutz",
    "prywatno", "polityk", "not a robot", "kein roboter", "nie jestem robotem", "captcha",
    "subscri", "newsletter", "abonn", "prenumer", "regist", "anmeld", "melden sie sich",
    "einloggen", "eingeloggt", "log in", "login", "sign up", "signup", "sign in", "signin",
    "zaloguj", "zarejestr", "zugang", "pflichtfeld", "javascript", "ad block", "adblock",
    "werbeblocker", "consent", "einwillig", "zustimm", "zgod", "weiterlesen",
    "weiterzulesen", "continue reading", "czytaj dalej", "czytać dalej", "e-mail", "email",
    "inbox", "posteingang", "skrzynk", "free articles", "articles each month",
    "complimentary access", "kostenlos", "inhalte im monat", "plus-inhalte", "darmow",
    "bezpłatn",
    # French, Spanish, Italian, Dutch
    "confidentialit", "privacidad", "riservatezza", "privacybeleid", "privacyverklaring",
    "suscrib", "suscríb", "abbona", "abonneer", "inscri", "iscriv", "registr", "regístr",
    "registreer", "connectez", "connexion", "iniciar sesion", "iniciar sesión", "accedi",
    "inloggen", "lire la suite", "continuer à lire", "continuer a lire", "seguir leyendo",
    "sigue leyendo", "continua a leggere", "verder lezen", "lees verder", "consentement",
    "consentimiento", "consenso", "toestemming", "gratuit", "gratis")
# Furniture whoever it addresses: block pages, captchas, the thanks of a paywall.
_ALWAYS_WORDS = (
    "not a robot", "kein roboter", "nie jestem robotem", "captcha", "thanks for reading",
    "thank you for reading", "adresse ip", "dirección ip", "direccion ip", "indirizzo ip",
    "ip-adres", "je ne suis pas un robot", "no soy un robot", "non sono un robot",
    "ik ben geen robot")
_BOUNDED_IP = r"adres\w* ip|\bip[- ]?(?:address|adresse)\b"
_TOPIC_BOUNDED = re.compile(r"\babo\b|" + _BOUNDED_IP)  # over lower-cased text
_ALWAYS_BOUNDED = re.compile(_BOUNDED_IP)
_TOPIC_DFA = ahocorasick_rs.AhoCorasick(_TOPIC_WORDS + _ALWAYS_WORDS,
                                        implementation=ahocorasick_rs.Implementation.DFA)
_ALWAYS_DFA = ahocorasick_rs.AhoCorasick(_ALWAYS_WORDS,
                                         implementation=ahocorasick_rs.Implementation.DFA)


def _names_topic(lower: str) -> bool:
    return bool(_TOPIC_DFA.find_matches_as_indexes(lower) or _TOPIC_BOUNDED.search(lower))


def _always(lower: str) -> bool:
    return bool(_ALWAYS_DFA.find_matches_as_indexes(lower) or _ALWAYS_BOUNDED.search(lower))


# The site itself named beside a furniture topic ("Diese Seite verwendet Cookies").
_SITE = re.compile(r"\b(?:website|web ?site|site|webseite|seite|witryn\w*|stron\w*|"
                   r"serwis\w*|portal\w*|browser\w*|przeglądar\w*|"
                   r"sitio|sito|navigateur|navegador|websites?)\b", re.IGNORECASE)
# Polish addresses the reader in the verb ("korzystasz", "zaznacz").
_POLISH_YOU = re.compile(r"\b(?:korzystasz|chcesz|zaznacz|kliknij|zgadzasz|akceptujesz|"
                         r"wyrażasz|przeczytasz|zapoznaj)\b", re.IGNORECASE)
# The reader addressed: second person, or the formal forms of German and Polish. Case
# matters for German ("Sie" is the reader, "sie" is she or they) and Polish ("Ci").
_READER = re.compile(
    r"\b(?:[Yy]ou|[Yy]our|[Yy]ou're|[Yy]ourself|YOU|YOUR)\b|"
    r"\b(?:Sie|Ihnen|Ihre[nmrs]?|Ihr|dich|dir|dein\w*)\b|"
    r"\b(?:[Pp]aństw\w*|Twó\w*|[Tt]woj\w*|Ci|Cię|cię)\b|"
    r"\b(?:[Vv]ous|[Vv]otre|[Vv]os)\b|"
    # Spanish, Italian and Dutch: the reader's pronouns and the imperatives banners use
    r"\b(?:[Uu]sted|[Tt]us?|[Aa]ceptas?|[Pp]ulsa|[Hh]az clic|[Tt]uo|[Tt]ua|[Aa]ccetti|"
    r"[Cc]licca|[Jj]ouw|[Jj]e|[Uu]w|[Kk]lik)\b|"
    # Prompts in the imperative address the reader without a pronoun.
    r"\b(?:[Ss]uscr[ií]bete|[Rr]eg[ií]strate|[Ii]nicia sesi[oó]n|[Aa]bbonati|[Ii]scriviti|"
    r"[Aa]ccedi|[Aa]bonnez|[Ii]nscrivez|[Cc]onnectez|[Zz]aloguj|[Zz]arejestruj|"
    r"[Rr]egistreer|[Aa]bonneer|[Ll]og in)\b")
# Lower-case pieces of the topics, the always-furniture and _LABEL: a text containing none
# of them has no furniture, and one pass of a DFA over it says so (the regular expressions
# took 80 us a line on 3 KB articles: the dedupe stage's whole budget).
_PIECES = ahocorasick_rs.AhoCorasick([
    "cookie", "privacy", "datenschutz", "prywatno", "polityk", "adres ip", "adresu ip",
    "ip address", "ip-adress", "ip adress", "robot", "captcha", "subscri", "newsletter",
    "abonn", " abo", "abo-", "prenumer", "regist", "anmeld", "melden sie", "einlogg",
    "eingelogg", "log in", "login", "log-in", "sign up", "sign in", "zaloguj", "zarejestr",
    "zugang", "pflichtfeld", "javascript", "adblock", "ad block", "ad-block", "werbeblock",
    "consent", "einwillig", "zustimm", "zgod", "weiterle", "weiterzule", "continue reading",
    "czytaj", "e-mail", "email", "inbox", "posteingang", "skrzynk", "free articles",
    "free access", "articles each month", "complimentary", "kostenlos", "inhalte im monat",
    "plus-inhalte", "darmow", "bezpłatn", "for reading", "czytać dalej",
    "confidentialit", "privacidad", "riservatezza", "privacybeleid", "privacyverklaring",
    "suscrib", "suscríb", "abbona", "abonneer", "inscri", "iscriv", "registr", "regístr",
    "registreer", "connectez", "connexion", "iniciar sesi", "accedi", "inloggen",
    "lire la suite", "continuer à lire", "continuer a lire", "seguir leyendo",
    "sigue leyendo", "continua a leggere", "verder lezen", "lees verder", "consentement",
    "consentimiento", "consenso", "toestemming", "adresse ip", "dirección ip",
    "direccion ip", "indirizzo ip", "ip-adres", "gratuit", "gratis", "accepter", "aceptar",
    "accetta", "akkoord", "accepteren"],
    implementation=ahocorasick_rs.Implementation.DFA)


def _may_be_furniture(text: str) -> bool:
    return bool(_PIECES.find_matches_as_indexes(text.lower()))


# Bare labels of buttons and links, alone on their line.
_LABEL = re.compile(
    r"^(?:ok|okay|accept(?: all)?|agree|i agree|akzeptieren|zustimmen|einverstanden|"
    r"akceptuj[eę]?|zgadzam się|register now|sign up|subscribe(?: now| today)?|log ?in|"
    r"back to page|continue|weiter|dalej|more|mehr|więcej|show me|"
    r"nie jestem robotem|i'?m not a robot|alle akzeptieren|"
    r"(?:tout )?accepter|j'accepte|aceptar(?: todo| todas)?|acepto|accetta(?: tutto)?|"
    r"accetto|akkoord|(?:alles )?accepteren|continuer|continuar|continua|doorgaan)[.!]?$",
    re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
MAX_LABEL_CHARS = 40
MIN_WORDS_IN_LINE = 4  # a shorter line naming furniture is a label or a heading of it


def is_furniture(sentence: str) -> bool:
    """Whether one sentence (or line) is page furniture, not news."""
    text = sentence.strip()
    if not text:
        return False
    lower = text.lower()
    if _LABEL.match(text) or _always(lower):
        return True
    if not _names_topic(lower):
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
