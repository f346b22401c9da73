"""curate: Common Crawl WARC files to clean, deduplicated, tokenized LLM training data."""

__version__ = "0.1.0"
