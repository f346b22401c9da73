"""url_filter on the real URLs of the sample WARCs: domains with their subdomains, exact URLs, banned, soft-banned and
glued words; lists by content in the fingerprint."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.config import load_pipeline
from curate.dag import run_pipeline
from curate.executors.local import LocalExecutor
from curate.stages.url_filter import UrlFilter, ascii_host, parent_domains, url_words
from tests.warc_factory import SAMPLE_DIR

LISTS = {
    "domains.txt": "# blocked\nallenai.org\n",
    "urls.txt": "commoncrawl.org/\n",
    "words.txt": "archive\n",
    "soft.txt": "data\ngov\n",
    "subwords.txt": "radsport\n",
}


def write_pipeline(folder: Path, workdir: Path) -> Path:
    for name, text in LISTS.items():
        (folder / name).write_text(text)
    path = folder / "p.yaml"
    path.write_text(textwrap.dedent(f"""
        workdir: {workdir}
        nodes:
          pages:
            input: {{warc: "{SAMPLE_DIR}/*.warc*"}}
            steps:
              - url_filter: {{domain_lists: [domains.txt], url_lists: [urls.txt], banned_words: [words.txt],
                              soft_banned_words: [soft.txt], banned_subwords: [subwords.txt]}}
    """))
    return path


def run(path: Path) -> int:
    with LocalExecutor() as executor:
        return run_pipeline(load_pipeline(str(path)), executor, log=lambda line: None)[0].computed


def test_each_rule_rejects_the_real_urls_it_names(tmp_path):
    run(write_pipeline(tmp_path, tmp_path / "out"))
    rejected = pq.read_table(tmp_path / "out" / "_rejected" / "pages").to_pylist()
    reasons = {(r["reject_reason"], r["reject_detail"]) for r in rejected}
    assert ("blocked_domain", "allenai.org") in reasons  # allenai.org and prior.allenai.org
    assert {r["url"].split("/")[2] for r in rejected if r["reject_reason"] == "blocked_domain"} == {
        "allenai.org", "prior.allenai.org"}
    assert {r["url"] for r in rejected if r["reject_reason"] == "blocked_url"} == {"https://commoncrawl.org/"}
    assert {r["url"].split("/")[2] for r in rejected if r["reject_reason"] == "banned_word"} == {"web.archive.org"}
    assert ("soft_banned_words", "data, gov") in reasons
    assert ("banned_subword", "radsport") in reasons
    kept = pq.read_table(tmp_path / "out" / "pages", columns=["url"]).column(0).to_pylist()
    assert kept and not any(word in url for url in kept for word in ("allenai.org", "archive", "radsport"))
    assert any("commoncrawl.org/" in url for url in kept)  # other pages of the domain: only the exact URL is listed


def test_a_changed_list_recomputes_and_a_moved_pipeline_does_not(tmp_path):
    path = write_pipeline(tmp_path, tmp_path / "out")
    assert run(path) == 10 and run(path) == 0
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in [*LISTS, "p.yaml"]:
        shutil.copy(tmp_path / name, moved / name)
    assert run(moved / "p.yaml") == 0  # the same lists by content, elsewhere: nothing to redo
    (moved / "domains.txt").write_text("allenai.org\nsoldaini.net\n")
    assert run(moved / "p.yaml") == 10


def test_rules_on_their_own():
    assert parent_domains("a.b.example.com") == ["a.b.example.com", "b.example.com", "example.com", "com"]
    assert url_words("https://Free-Casino.example/Win_Big?x=1") == {"https", "free", "casino", "example", "win",
                                                                     "big", "x", "1"}
    with pytest.raises(ValueError, match="give at least one list"):
        UrlFilter()


def test_ports_user_names_and_either_form_of_an_international_host_match(tmp_path):
    domains = tmp_path / "domains"
    domains.write_text("bücher.example\nxn--80ak6aa92e.com\n")
    urls = tmp_path / "urls"
    urls.write_text("shop.example/casino/win\nxn--mnchen-3ya.example/spiel\n")
    stage = UrlFilter(domain_lists=[str(domains)], url_lists=[str(urls)])
    assert stage.apply("https://shop.example:8443/casino/win").reason == "blocked_url"
    assert stage.apply("http://guest:pw@shop.example/casino/win").reason == "blocked_url"
    assert stage.apply("https://münchen.example/spiel").reason == "blocked_url"
    assert stage.apply("https://www.xn--bcher-kva.example/").reason == "blocked_domain"
    assert stage.apply("https://a.bücher.example:81/").reason == "blocked_domain"
    assert stage.apply("https://аррӏе.com/").reason == "blocked_domain"  # Cyrillic look-alike, listed as punycode
    assert stage.apply("https://shop.example/casino/lose") == ()
    assert ascii_host("bücher.example") == "xn--bcher-kva.example"
