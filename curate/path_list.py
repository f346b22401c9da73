"""Common Crawl as users name it: a crawl's `warc.paths.gz` (one relative path a line, as Common Crawl publishes one
per crawl and per file type), a prefix that turns each line into a URI, and a selection of the lines.

    input:
      warc:
        paths: s3://commoncrawl/crawl-data/CC-MAIN-2024-10/warc.paths.gz
        prefix: s3://commoncrawl/          # or https://data.commoncrawl.org/ (read-only, no credentials)
        anonymous: true                    # no AWS credentials needed for a public bucket
        sample: 100                        # 100 files drawn with `seed`, in the list's order

A crawl of 90,000 files is then named in four lines. The path list itself may be local or a URI, gzipped or not.
One job of several takes its share with `curate run --shard i/n` (curate/shard_jobs.py), not in this file: all the
jobs and their merge then run one pipeline file.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from curate import storage

# Where Common Crawl serves the files named in its path lists: its public bucket, and the same objects over HTTPS.
COMMON_CRAWL_PREFIXES = ("s3://commoncrawl/", "https://data.commoncrawl.org/")


@dataclass
class PathList:
    """A selection of the files named in a path list."""

    paths: str
    prefix: str = COMMON_CRAWL_PREFIXES[0]
    sample: int | None = None  # draw this many lines (without replacement, seeded), kept in the list's order
    seed: int = 0
    shard: str | None = None  # moved to `curate run --shard i/n`: refused here with a line that says so
    anonymous: bool = False  # read s3:// files without credentials (a public bucket such as Common Crawl's)

    def __post_init__(self) -> None:
        if self.sample is not None and self.sample < 1:
            raise ValueError(f"sample must be a positive number of files, got {self.sample}")
        if self.shard is not None:
            raise ValueError(f"shard: {self.shard} is now `curate run --shard {self.shard}`, so that every job and "
                             "the merge that follows them run one pipeline file (docs/cluster.md, \"A crawl as "
                             "several jobs\"); remove it here")

    def select(self, lines: list[str]) -> list[str]:
        """The chosen lines. Example: lines a..j, sample 4 -> 4 of them, in list order."""
        if self.sample is not None and self.sample < len(lines):
            chosen = sorted(random.Random(self.seed).sample(range(len(lines)), self.sample))
            lines = [lines[i] for i in chosen]
        return lines

    def files(self, list_uri: str) -> list[str]:
        """The URIs of the chosen files (prefix + line), read from the path list at `list_uri`."""
        with storage.open_text(list_uri) as handle:
            lines = [line.strip() for line in handle if line.strip()]
        if not lines:
            raise ValueError("the path list is empty")
        prefix = self.prefix if self.prefix.endswith("/") else self.prefix + "/"
        suffix = "?anonymous=true" if self.anonymous and prefix.startswith("s3://") else ""
        return [prefix + line.lstrip("/") + suffix for line in self.select(lines)]
