"""Page furniture in German, Polish and English, and the news sentences that only look like it."""

from __future__ import annotations

import pytest
from wirewatch.streams.dedupe.furniture import furniture_only, is_furniture, strip_furniture


@pytest.mark.parametrize("sentence", [
    "Wir setzen auf unserer Website Cookies und andere Technologien ein, um Ihnen den vollen "
    "Funktionsumfang anzubieten.",
    "Diese Seite verwendet Cookies.",
    "Registrieren Sie sich jetzt kostenlos, um weiterzulesen.",
    "Podejrzewamy, że ktoś nadużył adresu IP, z którego korzystasz.",
    "Chcemy dostarczać Ci coraz lepsze materiały, do tego potrzebne są Twoje zgody.",
    "If you already subscribe to our print edition, sign up for FREE access to our online "
    "edition.",
    "Thanks for reading The Henderson News.",
    "Register Now",
    "OK",
])
def test_furniture_is_recognised(sentence: str) -> None:
    assert is_furniture(sentence)


@pytest.mark.parametrize("sentence", [
    "Google said it would stop supporting third-party cookies in Chrome by 2022.",
    "Netflix added 8.8 million subscribers in the fourth quarter, the company said.",
    "Die Polizei registrierte am Wochenende 40 Einbrüche, sagte ein Sprecher.",
    "Sie sagte, die Regierung werde die Steuern nicht erhöhen.",
    "The regulator said the bank had broken privacy rules.",
])
def test_news_about_the_same_things_is_not_furniture(sentence: str) -> None:
    assert not is_furniture(sentence)


def test_lines_stay_lines_and_news_stays() -> None:
    text = ("Microsoft buys Contoso\nWe use cookies on this site. Microsoft said on Monday it "
            "would buy Contoso.\nRegister Now\nThe deal closes in June.")
    assert strip_furniture(text) == ("Microsoft buys Contoso\nMicrosoft said on Monday it "
                                     "would buy Contoso.\nThe deal closes in June.")


def test_a_page_of_furniture_with_a_scrap_of_news_is_furniture_only() -> None:
    wall = ("Diese Seite verwendet Cookies. Für eine uneingeschränkte Nutzung der Webseite "
            "werden Cookies benötigt. Registrieren Sie sich jetzt kostenlos, um weiterzulesen. "
            "Bitte melden Sie sich an! Sie haben noch keinen Zugang zum Archiv? "
            "Mehr Informationen finden Sie in unserer Datenschutzerklärung.\nBörsen im Plus.")
    assert furniture_only(wall)
    article = "Microsoft said on Monday it would buy Contoso for $2 billion in cash. " * 8
    assert not furniture_only(article) and not furniture_only(article + "\n" + wall)
