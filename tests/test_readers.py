"""Outputs every standard tool reads correctly: a node's folder gives exactly its kept rows in pyarrow, pandas, polars,
DuckDB and Hugging Face `datasets` (folder and glob); token shards read as a Parquet dataset; the trained tokenizer
gives curate's ids in `tokenizers`, `transformers.AutoTokenizer` and tiktoken, special tokens included."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.layout import NodeLayout
from curate.ops.train_bpe import load_tokenizer

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing in the suite may reach the network; datasets reads this on import
os.environ["HF_DATASETS_OFFLINE"] = "1"


def committed_ids(workdir: Path, node: str) -> Counter[str]:
    """The ids in the kept-rows files that the node's partition commit records name, read file by file."""
    layout = NodeLayout(str(workdir), node)
    ids: Counter[str] = Counter()
    for record in (Path(layout.state) / "partitions").glob("*.json"):
        for rel in json.loads(record.read_text())["files"]:
            if rel.startswith(f"{node}/"):
                ids.update(pq.read_table(workdir / rel, columns=["id"]).column(0).to_pylist())
    docs_out = json.loads(Path(layout.commit_record).read_text())["docs_out"]
    assert sum(ids.values()) == docs_out > 0
    return ids


def read_ids(reader: str, folder: Path, cache: Path) -> Counter[str]:
    """The `id` column of the dataset at `folder`, as `reader` loads it given the folder (or a glob in it)."""
    if reader == "pyarrow":
        return Counter(pq.read_table(folder, columns=["id"]).column(0).to_pylist())
    if reader == "pandas":
        import pandas as pd

        return Counter(pd.read_parquet(folder, columns=["id"])["id"])
    if reader == "polars":
        import polars as pl

        return Counter(pl.read_parquet(folder, columns=["id"])["id"].to_list())
    if reader == "polars-glob":
        import polars as pl

        return Counter(pl.read_parquet(str(folder / "*.parquet"), columns=["id"])["id"].to_list())
    if reader == "duckdb":  # a recursive glob: anything under the folder would be read
        import duckdb

        return Counter(row[0] for row in duckdb.sql(f"SELECT id FROM read_parquet('{folder}/**/*.parquet')").fetchall())
    import datasets

    if reader == "datasets":
        loaded = datasets.load_dataset(str(folder), split="train", cache_dir=str(cache))
    else:  # datasets-glob
        loaded = datasets.load_dataset("parquet", data_files=str(folder / "*.parquet"), split="train",
                                       cache_dir=str(cache))
    return Counter(loaded["id"])


READERS = ["pyarrow", "pandas", "polars", "polars-glob", "duckdb", "datasets", "datasets-glob"]


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("node", ["text", "deduped"])
def test_a_node_folder_reads_as_exactly_its_kept_rows(quickstart_local, tmp_path, reader, node):
    expected = committed_ids(quickstart_local, node)
    rejected = sum(pq.read_metadata(p).num_rows for p in (quickstart_local / "_rejected" / node).glob("*.parquet"))
    assert rejected > 0 or node == "deduped"  # the quickstart's text node rejects pages: they must not mix in
    assert read_ids(reader, quickstart_local / node, tmp_path) == expected


@pytest.mark.parametrize("reader", READERS)
def test_token_shards_read_as_a_parquet_dataset(quickstart_local, tmp_path, reader):
    manifest = json.loads(Path(NodeLayout(str(quickstart_local), "shards").manifest).read_text())
    ids = read_ids(reader, quickstart_local / "shards", tmp_path)
    assert sum(ids.values()) == manifest["documents"] and ids == committed_ids(quickstart_local, "deduped")


@pytest.fixture(scope="module")
def texts(quickstart_local) -> list[str]:
    """Real documents, and the same joined by the end-of-text special token, as a training file would hold them."""
    documents = pq.read_table(quickstart_local / "deduped", columns=["text"]).column(0).to_pylist()[:40]
    return documents + ["<|endoftext|>".join(documents[i : i + 3]) for i in range(0, 30, 3)]


def test_the_tokenizer_gives_curates_ids_in_every_loader(quickstart_local, texts, tmp_path, monkeypatch):
    import tiktoken
    import tiktoken.load
    from tokenizers import Tokenizer as HFTokenizer
    from transformers import AutoTokenizer

    folder = quickstart_local / "bpe"
    ours = load_tokenizer(str(folder))
    hf = HFTokenizer.from_file(str(folder / "tokenizer.json"))
    auto = AutoTokenizer.from_pretrained(str(folder))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    encoding = tiktoken.Encoding("curate", pat_str=ours.pattern, special_tokens=ours.specials,
                                 mergeable_ranks=tiktoken.load.load_tiktoken_bpe(str(folder / "tokenizer.tiktoken")))
    eot = ours.specials["<|endoftext|>"]
    assert auto.eos_token == auto.bos_token == "<|endoftext|>" and auto.eos_token_id == eot
    with_special = 0
    for text in texts:
        expected = ours.encode(text, allowed_special="all")
        with_special += eot in expected
        assert hf.encode(text).ids == expected
        assert auto(text)["input_ids"] == expected
        assert encoding.encode(text, allowed_special="all") == expected
        assert auto.decode(expected) == text
    assert with_special == 10


def test_a_transformers_model_sized_by_the_tokenizer_reads_every_shard(quickstart_local):
    """`vocab_size` covers every id, end-of-text included: a GPT-2 sized by it embeds each shard's tokens (with the
    special token outside the vocabulary, vocab_size was one short and the embedding lookup failed)."""
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    auto = AutoTokenizer.from_pretrained(str(quickstart_local / "bpe"))
    ours = load_tokenizer(str(quickstart_local / "bpe"))
    assert auto.vocab_size == len(auto) == ours.vocab_size
    model = GPT2LMHeadModel(GPT2Config(vocab_size=auto.vocab_size, n_layer=1, n_head=2, n_embd=32, n_positions=256))
    tokens = pq.read_table(quickstart_local / "shards", columns=["tokens"]).column(0).to_pylist()
    ids = torch.tensor([token for document in tokens[:20] for token in document[-12:]]).unsqueeze(0)  # 20 endings
    assert auto.eos_token_id in ids.tolist()[0]
    assert model(ids, labels=ids).loss.isfinite()


def test_tokenizer_json_is_hugging_faces_format_and_curates_has_its_own_name(quickstart_local):
    """tokenizer.json is Hugging Face's; curate's own format has its own name (it failed HF's loader before)."""
    assert json.loads((quickstart_local / "bpe" / "tokenizer.json").read_text())["model"]["type"] == "BPE"
    assert "merges" in json.loads((quickstart_local / "bpe" / "tokenizer.curate.json").read_text())
