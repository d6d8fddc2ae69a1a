"""wirewatch.connectors.websub pure parts: signatures, discovery, callback URLs, lease
arithmetic."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from wirewatch.connectors.parse import ParsedFeed
from wirewatch.connectors.websub import (
    WebSubSubscription,
    callback_url,
    discover,
    granted_lease,
    is_active,
    renewal_due,
    retry_due,
    sign,
    verify_signature,
)

SECRET = "s3cret"
BODY = b"<feed>pushed</feed>"


def header(algo: str, secret: str = SECRET, body: bytes = BODY) -> str:
    return f"{algo}={hmac.new(secret.encode(), body, getattr(hashlib, algo)).hexdigest()}"


@pytest.mark.parametrize("algo", ["sha1", "sha256", "sha384", "sha512"])
def test_sign_matches_hmac_of_the_body(algo):
    assert sign(SECRET, BODY, algo) == header(algo)


def test_sign_refuses_unknown_algorithm():
    with pytest.raises(ValueError, match="md5"):
        sign(SECRET, BODY, "md5")


SIGNATURES = [
    pytest.param(header("sha1"), BODY, True, id="sha1"),
    pytest.param(header("sha256"), BODY, True, id="sha256"),
    pytest.param(header("sha384"), BODY, True, id="sha384"),
    pytest.param(header("sha512"), BODY, True, id="sha512"),
    pytest.param(header("sha256").upper(), BODY, True, id="upper-case"),
    pytest.param(" " + header("sha256") + " ", BODY, True, id="surrounding-space"),
    pytest.param(header("sha256", secret="wrong"), BODY, False, id="wrong-secret"),
    pytest.param(header("sha256"), BODY + b" ", False, id="tampered-body"),
    pytest.param(header("sha256"), b"", False, id="empty-body"),
    pytest.param(header("sha1").replace("sha1=", "sha256="), BODY, False, id="algo-mismatch"),
    pytest.param(header("sha256")[:-2], BODY, False, id="truncated"),
    pytest.param(None, BODY, False, id="missing"),
    pytest.param("", BODY, False, id="empty"),
    pytest.param("sha256", BODY, False, id="no-equals"),
    pytest.param("sha256=", BODY, False, id="no-digest"),
    pytest.param("=" + header("sha256").split("=")[1], BODY, False, id="no-algo"),
    pytest.param("md5=" + hashlib.md5(BODY).hexdigest(), BODY, False, id="unknown-algo"),
    pytest.param("sha256=zz" + header("sha256")[9:], BODY, False, id="not-hex"),
    pytest.param("sha256=\u00e9\u00e9", BODY, False, id="non-ascii"),
]


@pytest.mark.parametrize(("value", "body", "valid"), SIGNATURES)
def test_verify_signature(value, body, valid):
    assert verify_signature(SECRET, body, value) is valid


HUB = "https://hub.example/"
SELF = "https://news.example/feed.xml"
FETCHED = "https://news.example/rss"

DISCOVERY = [
    pytest.param((HUB,), SELF, (HUB, SELF), id="hub-and-self"),
    pytest.param((HUB,), None, (HUB, FETCHED), id="self-missing-uses-fetched-url"),
    pytest.param((HUB, "https://second.example/"), SELF, (HUB, SELF), id="first-hub"),
    pytest.param(("javascript:alert(1)", HUB), SELF, (HUB, SELF), id="skips-non-http-hub"),
    pytest.param(("http://hub.example/",), SELF, ("http://hub.example/", SELF), id="http-hub"),
    pytest.param((" https://hub.example/ ",), SELF, (HUB, SELF), id="whitespace"),
    pytest.param((HUB,), "ftp://news.example/feed", (HUB, FETCHED), id="non-http-self"),
    pytest.param((), SELF, None, id="no-hub"),
    pytest.param(("mailto:hub@example.com",), SELF, None, id="only-non-http-hub"),
    pytest.param(("https:///nohost",), SELF, None, id="hub-without-host"),
    pytest.param(("http://[::1",), SELF, None, id="unparsable-hub"),
]


@pytest.mark.parametrize(("hubs", "self_url", "expected"), DISCOVERY)
def test_discover(hubs, self_url, expected):
    assert discover(ParsedFeed(hub_urls=hubs, self_url=self_url), FETCHED) == expected


def test_discover_without_any_http_topic():
    assert discover(ParsedFeed(hub_urls=(HUB,)), "file:///etc/passwd") is None


@pytest.mark.parametrize("base", ["https://ww.example", "https://ww.example/"])
def test_callback_url(base):
    assert callback_url(base, "f00d", "tok") == "https://ww.example/websub/f00d/tok"


def test_callback_url_keeps_a_path_prefix():
    assert callback_url("https://ww.example/push/", "f", "t") == "https://ww.example/push/websub/f/t"


@pytest.mark.parametrize(("raw", "expected"), [
    pytest.param("600", 600, id="granted"),
    pytest.param(None, 86400, id="missing"),
    pytest.param("", 86400, id="empty"),
    pytest.param("ten", 86400, id="not-a-number"),
    pytest.param("0", 86400, id="zero"),
    pytest.param("-5", 86400, id="negative"),
    pytest.param("99999999999", 86400, id="absurd"),
])
def test_granted_lease(raw, expected):
    assert granted_lease(raw, 86400) == expected


def subscription(state, expires_at=None, updated_at=0.0, lease=1000):
    return WebSubSubscription("f", SELF, HUB, "https://ww.example/websub/f/t", "s", "t", lease,
                              state, expires_at=expires_at, updated_at=updated_at)


@pytest.mark.parametrize(("sub", "active"), [
    pytest.param(subscription("verified", 2000.0), True, id="verified"),
    pytest.param(subscription("requested", 2000.0), True, id="renewal-in-flight"),
    pytest.param(subscription("requested"), False, id="first-request"),
    pytest.param(subscription("verified", 1000.0), False, id="expired"),
    pytest.param(subscription("failed", 2000.0), False, id="failed"),
    pytest.param(subscription("denied"), False, id="denied"),
    pytest.param(subscription("unsubscribing", 2000.0), False, id="unsubscribing"),
])
def test_is_active(sub, active):
    assert is_active(sub, now=1000.0) is active


@pytest.mark.parametrize(("sub", "due"), [
    pytest.param(subscription("verified", 2000.0), False, id="fresh"),
    pytest.param(subscription("verified", 1100.0), True, id="inside-margin"),
    pytest.param(subscription("verified", 1101.0), False, id="just-outside-margin"),
    pytest.param(subscription("verified", 500.0), True, id="already-expired"),
    pytest.param(subscription("requested", 1050.0), False, id="renewal-in-flight"),
    pytest.param(subscription("failed", 1050.0), False, id="failed"),
])
def test_renewal_due(sub, due):
    assert renewal_due(sub, now=1000.0, margin=0.1) is due


@pytest.mark.parametrize(("sub", "due"), [
    pytest.param(subscription("failed", updated_at=300.0), True, id="failed-long-ago"),
    pytest.param(subscription("failed", updated_at=500.0), False, id="failed-recently"),
    pytest.param(subscription("requested", updated_at=300.0), True, id="never-verified"),
    pytest.param(subscription("denied", updated_at=300.0), False, id="denied-waits-a-lease"),
    pytest.param(subscription("denied", updated_at=0.0), True, id="denied-a-lease-ago"),
    pytest.param(subscription("verified", 2000.0), False, id="verified"),
    pytest.param(subscription("unsubscribing"), False, id="unsubscribing"),
])
def test_retry_due(sub, due):
    assert retry_due(sub, now=1000.0, retry_seconds=600) is due


def test_secret_and_callback_stay_out_of_repr():
    text = repr(subscription("verified"))
    assert "secret" not in text and "token" not in text and "/websub/" not in text
