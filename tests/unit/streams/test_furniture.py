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


# Written for this project: a cookie wall, a paywall or sign-up prompt, and a block page in
# each major European language, beside a news sentence about the same things.
FURNITURE_BY_LANGUAGE = {
    "de": ["Wir verwenden Cookies, um Ihnen das beste Nutzererlebnis zu bieten.",
           "Melden Sie sich an, um den ganzen Artikel zu lesen.",
           "Ihre IP-Adresse wurde vorübergehend gesperrt.", "Alle akzeptieren"],
    "fr": ["Nous utilisons des cookies pour améliorer votre expérience sur notre site.",
           "Abonnez-vous pour lire la suite de cet article.",
           "Votre adresse IP a été bloquée temporairement.", "Tout accepter"],
    "es": ["Utilizamos cookies propias y de terceros para mejorar tu experiencia.",
           "Suscríbete para seguir leyendo esta noticia.",
           "Su dirección IP ha sido bloqueada por motivos de seguridad.", "Aceptar todo"],
    "it": ["Questo sito utilizza cookie per migliorare la tua esperienza di navigazione.",
           "Abbonati per continua a leggere l'articolo completo.",
           "Il tuo indirizzo IP è stato bloccato.", "Accetta tutto"],
    "nl": ["Wij gebruiken cookies om jouw ervaring op onze website te verbeteren.",
           "Log in of registreer je gratis om verder te lezen.",
           "Uw IP-adres is tijdelijk geblokkeerd.", "Alles accepteren"],
    "pl": ["Ta strona korzysta z plików cookie, aby świadczyć usługi na najwyższym poziomie.",
           "Zaloguj się, aby czytać dalej.", "Twój adres IP został zablokowany.",
           "Akceptuję"],
}
NEWS_BY_LANGUAGE = {
    "de": "Die Regulierungsbehörde verhängte eine Strafe wegen des Einsatzes von Cookies.",
    "fr": "Le groupe de presse a gagné 200 000 abonnés numériques l'an dernier.",
    "es": "La empresa registró unas pérdidas de 300 millones de euros en el trimestre.",
    "it": "Il gruppo ha registrato un utile netto di 1,2 miliardi di euro nel trimestre.",
    "nl": "De toezichthouder legde de bank een boete op voor het schenden van privacyregels.",
    "pl": "Spółka zarejestrowała w kwartale stratę netto w wysokości 50 mln zł.",
}


@pytest.mark.parametrize("lang", sorted(FURNITURE_BY_LANGUAGE))
def test_furniture_in_every_major_european_language(lang: str) -> None:
    for sentence in FURNITURE_BY_LANGUAGE[lang]:
        assert is_furniture(sentence), sentence
    assert not is_furniture(NEWS_BY_LANGUAGE[lang])
    page = "\n".join([FURNITURE_BY_LANGUAGE[lang][0], NEWS_BY_LANGUAGE[lang],
                      *FURNITURE_BY_LANGUAGE[lang][1:]])
    assert strip_furniture(page) == NEWS_BY_LANGUAGE[lang]
