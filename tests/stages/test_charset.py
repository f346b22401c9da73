"""Charset decoding: HTTP header first, then the meta tag, then UTF-8, then detection, never losing a page."""

from __future__ import annotations

from curate.stages.charset import decode_html

PAGE = "<html><head>{meta}</head><body><p>Ça coûte 5 €, dit l'élève à Zürich.</p></body></html>"


def test_header_charset_wins():
    decoded = decode_html(PAGE.format(meta="").encode("cp1252"), "text/html; charset=windows-1252")
    assert decoded.source == "header" and "coûte 5 €" in decoded.text


def test_meta_charset_when_the_header_has_none():
    html = PAGE.format(meta='<meta charset="iso-8859-15">').encode("iso-8859-15")
    decoded = decode_html(html, "text/html")
    assert decoded.source == "meta" and decoded.charset == "iso8859-15" and "€" in decoded.text


def test_latin1_label_means_windows_1252():
    # WHATWG Encoding Standard: the label iso-8859-1 decodes as windows-1252, where 0x80 is the euro sign.
    decoded = decode_html(PAGE.format(meta="").encode("cp1252"), "text/html; charset=ISO-8859-1")
    assert decoded.charset == "cp1252" and "5 €" in decoded.text


def test_wrong_header_falls_through_to_utf8():
    decoded = decode_html(PAGE.format(meta="").encode("utf-8"), "text/html; charset=bogus-charset")
    assert decoded.source == "utf-8" and "Zürich" in decoded.text


def test_bytes_no_charset_decodes_are_kept_with_replacement():
    decoded = decode_html(b"<p>\xff\xfe\xfd\x00\x81</p>", "text/html; charset=utf-8")
    assert decoded.source in ("detected", "fallback") and decoded.text.startswith("<p>")


LATVIAN = "<html><body><p>Ļoti labi, paldies! Šī lapa ir latviešu valodā.</p></body></html>"


def test_utf16_without_a_bom_or_label_is_told_by_its_nuls():
    """Its ASCII markup is valid UTF-8 with NULs between, so trying UTF-8 first read "Ļoti" as ";\\x01oti"."""
    for codec in ("utf-16-le", "utf-16-be"):
        decoded = decode_html(LATVIAN.encode(codec), None)
        assert (decoded.text, decoded.charset, decoded.source) == (LATVIAN, codec, "nul_pattern")


def test_a_byte_order_mark_comes_first():
    for encoded in (LATVIAN.encode("utf-16"), b"\xef\xbb\xbf" + LATVIAN.encode("utf-8")):
        decoded = decode_html(encoded, "text/html; charset=windows-1252")
        assert decoded.text == LATVIAN and decoded.source == "bom"
