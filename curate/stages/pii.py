"""PII anonymisation: e-mail addresses and public IP addresses replaced by placeholders (FineWeb, Penedo et al. 2024,
arXiv:2406.17557, section 3.4: "we anonymize email addresses and public IP addresses"; dolma's PII tagger masks
the same two kinds plus phone numbers). Phone numbers are optional: the formats that can be told from other numbers
without a country's numbering plan are few, so they are off by default.

The placeholders cannot belong to anyone: `email@example.com` (example.com is reserved for documentation, RFC 2606),
`192.0.2.1` (TEST-NET-1, RFC 5737) and `555-0100` (the NANP's fictional range). Private, loopback and reserved
addresses (192.168.1.1 in a router manual) and multicast groups are not personal and stay, as in datatrove's
PIIFormatter; so do dotted
quads of single digits, which are version numbers far more often than hosts. The counts of
each kind replaced are written as signals (`pii_emails`, `pii_ips`, `pii_phones`); no document is rejected.

Precision on the shared corpus's pages: docs/filters.md, "PII".
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from curate.stages.base import DocumentStage

# A local part (RFC 5322's atext, dot-separated), "@", then DNS labels and a letters-only top-level domain of at
# least two letters (so "user@host" and "a@1.2" are not addresses). The first character is not a quote mark, which
# atext allows but which in prose opens a quotation: "('sam9@company.co.uk')" keeps its quote.
EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9!#$%&*+/=?^_{|}~-][A-Za-z0-9!#$%&'*+/=?^_`{|}~-]*"
                   r"(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                   r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])")
# Retina image names (`icon@2x.png`) and similar asset names look like addresses to the pattern above.
FILE_SUFFIXES = ("png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "css", "js", "ico", "bmp", "tif", "tiff")
# Four octets not part of a longer dotted number: no digit or "digit." before, no digit or ".digit" after, so an
# address that ends a sentence ("from 93.184.216.34.") is one, and "1.2.3.4.5" is not.
IPV4 = re.compile(r"(?<!\d)(?<!\d\.)(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
                  r"(?!\.?\d)")
# North American and international numbers written with a separator pattern dates and prices do not have:
# "(415) 555-2671", "415-555-2671", "+44 20 7946 0958", "+1 415 555 2671".
PHONE = re.compile(r"(?<![\w+])(?:\(\d{3}\)\s?\d{3}[-.\s]\d{4}|\d{3}[-.]\d{3}[-.]\d{4}|\+\d{1,3}(?:[\s.-]\d{1,4}){2,5})"
                   r"(?![\w-])")


def looks_like_version(quad: str) -> bool:
    """A dotted quad of single digits is a version number ("2.4.1.0"), not a host: the public addresses that look
    like that (1.1.1.1, 8.8.8.8) are resolvers, not anyone's. Example: looks_like_version("2.4.1.0") -> True"""
    return all(len(octet) == 1 for octet in quad.split("."))


@dataclass
class Pii(DocumentStage):
    """Replace e-mail addresses and public IPv4 addresses (and, with `phones`, phone numbers) in `text`."""

    name: ClassVar[str] = "pii"
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[pa.Field, ...]] = (pa.field("text", pa.string()), pa.field("pii_emails", pa.int32()),
                                              pa.field("pii_ips", pa.int32()), pa.field("pii_phones", pa.int32()))

    emails: bool = True
    ips: bool = True
    phones: bool = False
    email_placeholder: str = "email@example.com"
    ip_placeholder: str = "192.0.2.1"
    phone_placeholder: str = "555-0100"

    def apply(self, text: str | None) -> tuple[str, int, int, int]:
        text = text or ""
        counts = [0, 0, 0]

        def email(match: re.Match[str]) -> str:
            if match.group().rsplit(".", 1)[-1].lower() in FILE_SUFFIXES:
                return match.group()
            counts[0] += 1
            return self.email_placeholder

        def ip(match: re.Match[str]) -> str:
            address = ipaddress.ip_address(match.group())
            # multicast groups (224.0.0.0/4) are protocol addresses, never a person's host
            if looks_like_version(match.group()) or not address.is_global or address.is_multicast:
                return match.group()
            counts[1] += 1
            return self.ip_placeholder

        def phone(match: re.Match[str]) -> str:
            counts[2] += 1
            return self.phone_placeholder

        if self.emails and "@" in text:
            text = EMAIL.sub(email, text)
        if self.ips:
            text = IPV4.sub(ip, text)
        if self.phones:
            text = PHONE.sub(phone, text)
        return text, counts[0], counts[1], counts[2]
