"""A feed body's character encoding: the HTTP charset, the XML declaration, else detected.

The parsers read UTF-8 and the XML declaration only; a feed served as
`text/xml; charset=big5` without a declaration, or with none at all, came out as
replacement characters. `to_utf8` hands them UTF-8 whatever the feed was written in.
"""

from __future__ import annotations

import codecs
import re

# UTF-8/16/32 byte order marks: the parsers read these themselves.
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE,
         codecs.BOM_UTF32_BE)
_HTTP_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)
# Multi-byte East Asian encodings (codecs' canonical names), see `to_utf8`.
_MULTIBYTE = ("big5", "cp950", "gb", "hz", "euc_", "cp949", "johab", "shift_jis", "cp932",
              "iso2022_")
_DECLARATION = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']+)["']""")
_DECLARED_TEXT = re.compile(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*["'])([^"']+)(["'])""")


def _codec(name: str | None) -> str | None:
    """The codec's canonical name, or None for a charset Python does not know."""
    if not name:
        return None
    try:
        return codecs.lookup(name.strip()).name
    except LookupError:
        return None


def http_charset(content_type: str) -> str | None:
    found = _HTTP_CHARSET.search(content_type)
    return found.group(1) if found else None


def declared_charset(body: bytes) -> str | None:
    found = _DECLARATION.match(body[:1024])
    return found.group(1).decode("ascii", "replace") if found else None


def _detect(body: bytes) -> str | None:
    from charset_normalizer import from_bytes  # imported on first need: ~0.1 s

    best = from_bytes(body).best()
    return _codec(best.encoding) if best is not None else None


def to_utf8(body: bytes, content_type: str = "", *,
            detect: bool = True) -> tuple[bytes, str | None]:
    """(the body as UTF-8, a note when its encoding had to be guessed).

    The HTTP charset wins (RFC 7303), then the XML declaration; a charset that does not
    decode the body, or none where the body is not UTF-8, is detected (charset-normalizer),
    unless `detect` is false (JSON, which is UTF-8 by definition). A body decoded from
    another encoding gets its XML declaration rewritten to UTF-8.
    """
    if body.startswith(_BOMS):
        return body, None
    stated = [(name, where) for name, where in ((http_charset(content_type), "HTTP charset"),
                                                (declared_charset(body), "XML declaration"))
              if _codec(name)]
    for name, _where in stated:
        codec = _codec(name)
        try:
            text = body.decode(codec or "utf-8")
        except UnicodeDecodeError:
            continue
        return _recoded(body, text, codec), None
    detected = _detect(body) if detect and _not_utf8(body) else None
    if stated:
        name, where = stated[0]
        stated_codec = _codec(name)
        if detected is None or detected == stated_codec or (
                stated_codec == "utf-8" and not detected.startswith(_MULTIBYTE)):
            # Stray bad bytes in the stated encoding: the parsers replace them. Broken
            # UTF-8 read as a one-byte code page is a guess, no better than U+FFFD; a clean
            # multi-byte reading (big5, euc-jp) is evidence of a mislabelled feed.
            return body, None
        return _recoded(body, body.decode(detected, "replace"), detected), (
            f"the {where} says {name}, which does not decode the feed; read as "
            f"{detected} (detected)")
    if detected is None or detected == "utf-8":
        return body, None
    return _recoded(body, body.decode(detected, "replace"), detected), (
        f"no charset declared and not UTF-8; read as {detected} (detected)")


def _not_utf8(body: bytes) -> bool:
    """True unless the body is UTF-8, or UTF-8 with a few broken sequences (a cut
    character, a stray byte): more characters decode than fail. Detecting an encoding for
    those would turn every good character into mojibake."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        text = body.decode("utf-8", "replace")
        broken = text.count("\ufffd")
        return sum(1 for c in text if c > "\x7f") - broken < broken
    return False


def _recoded(body: bytes, text: str, codec: str | None) -> bytes:
    if codec == "utf-8":
        return body
    return _DECLARED_TEXT.sub(r"\g<1>utf-8\g<3>", text, count=1).encode("utf-8")
