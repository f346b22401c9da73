"""Decoding an HTML payload to text: a byte-order mark, else the charset from the HTTP header, else the page's meta
tag, else UTF-16 told by its NUL bytes, else UTF-8, else detection.

The order follows the HTML standard's encoding sniffing (a BOM first, then the transport layer, then the document's
own declaration), with UTF-8 tried strictly before statistical detection because most of the web is UTF-8 and
detection is slow and can misfire on short pages. UTF-16 without a BOM or a label must be told apart before UTF-8
is tried: its ASCII markup is valid UTF-8 with a NUL after (LE) or before (BE) every character, so the strict UTF-8
decode succeeds and turns "Ļoti" into ";\x01oti". A page that no candidate decodes cleanly is decoded as UTF-8 with replacement characters and
counted as a fallback, so it is never lost.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import charset_normalizer

# The HTML standard's prescan looks at the first 1024 bytes for <meta charset>; real pages often put it later, after
# long <script> blocks, so we look further. Bounded so that a 5 MB page costs nothing extra.
META_SCAN_BYTES = 16_384
# charset_normalizer reads the whole payload; a prefix is enough to decide and keeps detection O(1) per page.
DETECT_SCAN_BYTES = 65_536
# UTF-16 by its NULs: in the first NUL_SCAN_BYTES, at least NUL_SHARE of the bytes at odd positions (LE; even
# positions for BE) are NUL and almost none at the other positions. HTML markup is ASCII, so a UTF-16 page's prefix
# has a NUL in nearly every code unit; a UTF-8 or legacy page has none.
NUL_SCAN_BYTES = 1024
NUL_SHARE = 0.4
BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))

_HEADER_CHARSET = re.compile(rb"charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Decoded:
    """A decoded payload and where its charset came from: header, meta, utf-8, detected or fallback."""

    text: str
    charset: str
    source: str


def _codec_name(label: bytes | None) -> str | None:
    """Python's codec name for a charset label, or None when Python does not know it.

    Example: _codec_name(b"ISO-8859-1") -> "cp1252" (the HTML standard maps Latin-1 labels to windows-1252).
    """
    if not label:
        return None
    try:
        name = codecs.lookup(label.decode("ascii", "ignore")).name
    except LookupError:
        return None
    # WHATWG Encoding Standard: "latin1", "iso-8859-1" and "ascii" labels all mean windows-1252.
    return "cp1252" if name in ("latin-1", "iso8859-1", "ascii") else name


def _strict(payload: bytes, codec: str | None) -> str | None:
    if codec is None:
        return None
    try:
        return payload.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def utf16_by_nuls(payload: bytes) -> str | None:
    """"utf-16-le" or "utf-16-be" when the payload's prefix has UTF-16's NUL pattern, else None.

    Example: utf16_by_nuls("<html>".encode("utf-16-le")) -> "utf-16-le"; utf16_by_nuls(b"<html>") -> None
    """
    head = payload[:NUL_SCAN_BYTES]
    even, odd = head[0::2], head[1::2]
    if len(odd) < 2:
        return None
    even_nuls, odd_nuls = even.count(0) / len(even), odd.count(0) / len(odd)
    if odd_nuls >= NUL_SHARE and even_nuls < 0.05:
        return "utf-16-le"
    if even_nuls >= NUL_SHARE and odd_nuls < 0.05:
        return "utf-16-be"
    return None


def decode_html(payload: bytes, content_type: str | None) -> Decoded:
    """Decode an HTML payload, trying a byte-order mark, the HTTP charset, the meta charset, UTF-16 by its NULs,
    UTF-8, then detection.

    >>> decode_html("café".encode("cp1252"), "text/html; charset=windows-1252").text
    'café'
    """
    for bom, bom_codec in BOMS:
        if payload.startswith(bom):
            decoded = _strict(payload, bom_codec)
            if decoded is not None:
                return Decoded(decoded, codecs.lookup(bom_codec).name, "bom")
    header_match = _HEADER_CHARSET.search(content_type.encode("latin-1", "ignore")) if content_type else None
    meta_match = _META_CHARSET.search(payload[:META_SCAN_BYTES])
    candidates = (
        ("header", _codec_name(header_match.group(1) if header_match else None)),
        ("meta", _codec_name(meta_match.group(1) if meta_match else None)),
        ("nul_pattern", utf16_by_nuls(payload)),
        ("utf-8", "utf-8"),
    )
    for source, codec in candidates:
        text = _strict(payload, codec)
        if text is not None:
            return Decoded(text, codec or "", source)
    best = charset_normalizer.from_bytes(payload[:DETECT_SCAN_BYTES]).best()
    if best is not None:
        text = _strict(payload, best.encoding)
        if text is not None:
            return Decoded(text, codecs.lookup(best.encoding).name, "detected")
    return Decoded(payload.decode("utf-8", errors="replace"), "utf-8", "fallback")
