"""The pii step on text from real pages of the shared corpus (html/*/pages, extracted): addresses replaced and counted,
private IPs, image names and ordinary numbers left alone."""

from __future__ import annotations

import pyarrow as pa

from curate.stages.pii import Pii
from curate.stats import StageStats

# Sentences as extracted from pages of ../shared/corpus/html (aeb, readability and trafilatura sets).
REAL = [
    "Amy Kuperinsky may be reached at akuperinsky@njadvancemedia.com. Follow her on Twitter.",
    "Email the writer at louise_matsakis@wired.com. Signal: 347-966-3806. WIRED protects the",
    "Submit comments on this post to <bkuhn@ebb.org>.",
    "Benjamin Romano: 206-652-6593 or bromano@seattletimes.com; on Twitter: @bromano",
    "So könnte aus der IP-Adresse 123.123.123.123 die \"anonyme\" IP-Adresse 123.123.122.243 werden.",
    "to my rsync server langly (whose ip is 192.168.0.2)  $IPTABLES -t nat",
    "hosts allow = 127.0.0.1  read only = yes",
    "Tel. +41 44 826 76 76 Fax +41 44 826 76 86",
    "Call TMZ at (888) 847-9869 or Click Here",
    "Ho Iberico Königstraße 18 14109 Berlin  +49 30 25 81 72 65 mail@vinho-iberico.de",
]
NOT_PII = [
    "<img src=\"logo@2x.png\"> and icon@3x.webp are image names",
    "Version 2.4.1.0 shipped on 2021-03-04; the score was 3.5.2 and pi is 3.14159.",
    "On 12.10.2023 we met at 10.30; the model has 1.5.10 layers and ISBN 978-3-16-148410-0.",
    "Follow us @handle and write to user@localhost on the box.",
]


def run(texts: list[str], **options) -> list[dict]:
    stage = Pii(**options)
    result = stage.process(pa.table({"text": texts}), StageStats("pii"))
    assert result.rejected.num_rows == 0
    return result.kept.to_pylist()


def test_addresses_on_real_pages_are_replaced_and_counted():
    rows = run(REAL)
    assert rows[0]["text"] == "Amy Kuperinsky may be reached at email@example.com. Follow her on Twitter."
    assert rows[2]["text"] == "Submit comments on this post to <email@example.com>."
    assert rows[4]["text"].count("192.0.2.1") == 2 and rows[4]["pii_ips"] == 2
    assert [r["pii_emails"] for r in rows] == [1, 1, 1, 1, 0, 0, 0, 0, 0, 1]
    assert [r["pii_ips"] for r in rows] == [0, 0, 0, 0, 2, 0, 0, 0, 0, 0]
    assert rows[5]["text"] == REAL[5] and rows[6]["text"] == REAL[6]  # private and loopback: not personal
    assert all(r["pii_phones"] == 0 and "826 76 76" in rows[7]["text"] for r in rows)  # phones: off by default


def test_phone_numbers_when_asked():
    rows = run(REAL, phones=True)
    assert [r["pii_phones"] for r in rows] == [0, 1, 0, 1, 0, 0, 0, 2, 1, 1]
    assert rows[7]["text"] == "Tel. 555-0100 Fax 555-0100"
    assert rows[9]["text"] == "Ho Iberico Königstraße 18 14109 Berlin  555-0100 email@example.com"


def test_look_alikes_are_left_alone():
    rows = run(NOT_PII, phones=True)
    assert [r["text"] for r in rows] == NOT_PII
    assert all(r["pii_emails"] == r["pii_ips"] == r["pii_phones"] == 0 for r in rows)


def test_an_address_that_ends_a_sentence_or_sits_in_quotes_is_replaced_whole():
    rows = run(["The attack came from 93.184.216.34. Then it stopped.", "Write to ('sam9@company.co.uk') today.",
                "Its address was 185.199.108.153.", "Plus-addressing: jane.doe+news@example.org works."])
    assert [r["text"] for r in rows] == ["The attack came from 192.0.2.1. Then it stopped.",
                                         "Write to ('email@example.com') today.", "Its address was 192.0.2.1.",
                                         "Plus-addressing: email@example.com works."]
    assert [(r["pii_emails"], r["pii_ips"]) for r in rows] == [(0, 1), (1, 0), (0, 1), (1, 0)]


def test_multicast_groups_and_longer_dotted_numbers_stay():
    texts = ["mDNS answers on 224.0.0.251 and SSDP on 239.255.255.250.", "Build 10.20.30.40.50 is out."]
    assert [r["text"] for r in run(texts)] == texts
