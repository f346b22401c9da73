"""URL filtering before anything reads a page's text (RefinedWeb, Penedo et al. 2023, arXiv:2306.01116, appendix
G.1; FineWeb runs the same through datatrove's URLFilter).

A document is rejected, by the first rule that fires:
- `blocked_domain`: its host or any parent domain is in a domain list (UT1's `domains` files: one domain a line), so
  listing `example.com` blocks `www.example.com` and `a.b.example.com`;
- `blocked_url`: the URL without its scheme is in a URL list (UT1's `urls` files: `host/path` a line);
- `banned_word`: a word of the URL (split on every non-alphanumeric character, lower-cased) is a banned word;
- `soft_banned_words`: at least `soft_word_threshold` distinct words of the URL are soft-banned (datatrove's default
  threshold: 2);
- `banned_subword`: a banned subword occurs in the URL with its non-alphanumerics removed (catches glued words,
  "freexxxvideos").

Lists are files or URIs given by the user, `#` starting a comment line; they are loaded once per worker process
(and again only when the file changes) and enter the node's fingerprint by content. No list is downloaded at run
time: docs/filters.md says how to fetch UT1's (https://dsi.ut-capitole.fr/blacklists/) and point at them.
pipelines/lists/ ships small example lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import urlsplit

from curate.model_cache import load_model_file
from curate.stages.base import DocumentStage, Reject

NON_ALPHANUMERIC = re.compile(r"[^a-z0-9]+")
# datatrove's URLFilter: a URL needs this many soft-banned words to be rejected.
SOFT_WORD_THRESHOLD = 2


def read_list(local_path: str) -> frozenset[str]:
    """The entries of a list file: one a line, stripped and lower-cased; blank lines and `#` comments skipped."""
    with open(local_path, encoding="utf-8", errors="replace") as handle:
        return frozenset(line.strip().lower() for line in handle if line.strip() and not line.lstrip().startswith("#"))


def load_lists(paths: list[str], what: str) -> frozenset[str]:
    """The union of the list files at `paths` (local or URIs), each cached per worker process."""
    entries: frozenset[str] = frozenset()
    for path in paths:
        entries |= load_model_file(path, read_list, what)
    return entries


def url_words(url: str) -> set[str]:
    """Example: url_words("https://Free-Casino.example/Win_Big?x=1") -> {"https", "free", "casino", "example", ...}"""
    return {word for word in NON_ALPHANUMERIC.split(url.lower()) if word}


def ascii_host(host: str) -> str:
    """A host in its ASCII (IDNA, punycode) form, so that a list entry and a URL match whichever form each uses.

    Example: ascii_host("bücher.example") -> "xn--bcher-kva.example"; ascii_host("example.com") -> "example.com"
    """
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:  # a label IDNA 2003 refuses: compared as written
        return host


def ascii_url_entry(entry: str) -> str:
    """A `host/path` list entry with its host in ASCII form. Example: "bücher.example/a" -> "xn--bcher-kva.example/a"
    """
    host, slash, rest = entry.partition("/")
    return ascii_host(host) + slash + rest


def parent_domains(host: str) -> list[str]:
    """Example: parent_domains("a.b.example.com") -> ["a.b.example.com", "b.example.com", "example.com", "com"]"""
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


@dataclass
class UrlFilter(DocumentStage):
    """Reject documents whose URL is on a blocklist or carries banned words (see the module docstring)."""

    name: ClassVar[str] = "url_filter"
    reads: ClassVar[tuple[str, ...]] = ("url",)
    file_options: ClassVar[tuple[str, ...]] = ("domain_lists", "url_lists", "banned_words", "soft_banned_words",
                                               "banned_subwords")

    domain_lists: list[str] = field(default_factory=list)
    url_lists: list[str] = field(default_factory=list)
    banned_words: list[str] = field(default_factory=list)
    soft_banned_words: list[str] = field(default_factory=list)
    banned_subwords: list[str] = field(default_factory=list)
    soft_word_threshold: int = SOFT_WORD_THRESHOLD

    def __post_init__(self) -> None:
        if not any((self.domain_lists, self.url_lists, self.banned_words, self.soft_banned_words,
                    self.banned_subwords)):
            raise ValueError("give at least one list: domain_lists, url_lists, banned_words, soft_banned_words or "
                             "banned_subwords")
        if self.soft_word_threshold < 1:
            raise ValueError("soft_word_threshold must be at least 1")
        self._lists: dict[str, frozenset[str]] | None = None
        self._subwords: re.Pattern[str] | None = None

    def lists(self) -> dict[str, frozenset[str]]:
        if self._lists is None:
            self._lists = {option: load_lists(getattr(self, option), f"{option} file") for option in self.file_options}
            self._lists["domain_lists"] = frozenset(map(ascii_host, self._lists["domain_lists"]))
            self._lists["url_lists"] = frozenset(map(ascii_url_entry, self._lists["url_lists"]))
            subwords = sorted(NON_ALPHANUMERIC.sub("", w) for w in self._lists["banned_subwords"])
            if any(subwords):  # one alternation: a single scan of the URL whatever the list's length
                self._subwords = re.compile("|".join(re.escape(w) for w in subwords if w))
        return self._lists

    def apply(self, url: str | None) -> tuple[()] | Reject:
        if not url:
            return ()  # a document without a URL (a JSON Lines corpus) has nothing to check
        lists = self.lists()
        parts = urlsplit(url.strip().lower())
        host = ascii_host((parts.hostname or "").rstrip("."))
        for domain in parent_domains(host) if host else []:
            if domain in lists["domain_lists"]:
                return Reject("blocked_domain", domain)
        if lists["url_lists"]:
            # the host alone: a port or user name in the URL does not hide it from its entry
            bare = (host + parts.path + (f"?{parts.query}" if parts.query else "")).removeprefix("www.")
            if bare in lists["url_lists"] or bare.rstrip("/") in lists["url_lists"]:
                return Reject("blocked_url", bare)
        words = url_words(url)
        banned = sorted(words & lists["banned_words"])
        if banned:
            return Reject("banned_word", ", ".join(banned[:5]))
        soft = sorted(words & lists["soft_banned_words"])
        if len(soft) >= self.soft_word_threshold:
            return Reject("soft_banned_words", ", ".join(soft[:5]))
        if self._subwords is not None:
            found = self._subwords.search(NON_ALPHANUMERIC.sub("", url.lower()))
            if found:
                return Reject("banned_subword", found.group())
        return ()
