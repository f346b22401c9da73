"""Draw the documents of the labelled evaluation set from a node of extracted text (see README.md beside this file).

    curate run pipelines/eval/extract.yaml
    python pipelines/eval/sample.py out/eval_extract/extracted pipelines/eval/candidates.jsonl --count 440

Documents are ordered by a BLAKE2b hash of their id and the first `count` taken: a uniform sample that does not
depend on file order, reproducible from the same extraction. Each gets a split from the same hash ("tune": thresholds
may be chosen on it; "test": figures are reported on it), and the text the extraction gave, so the set is
self-contained. Labels are added by a reader, never by curate.
"""

from __future__ import annotations

import argparse
import hashlib
import json

import pyarrow.dataset as ds


def rank(doc_id: str) -> bytes:
    return hashlib.blake2b(doc_id.encode(), digest_size=8, key=b"curate-eval").digest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("node", help="folder of the extracted node's Parquet files")
    parser.add_argument("out", help="candidates JSON Lines to write")
    parser.add_argument("--count", type=int, default=440)
    args = parser.parse_args()
    rows = ds.dataset(args.node, format="parquet").to_table(columns=["id", "url", "source", "text"]).to_pylist()
    rows.sort(key=lambda row: rank(row["id"]))
    with open(args.out, "w", encoding="utf-8") as out:
        for row in rows[: args.count]:
            split = "tune" if rank(row["id"])[-1] % 2 == 0 else "test"
            out.write(json.dumps({"id": row["id"], "url": row["url"], "source": row["source"], "split": split,
                                  "text": row["text"]}, ensure_ascii=False) + "\n")
    print(f"{min(args.count, len(rows))} of {len(rows)} documents written to {args.out}")


if __name__ == "__main__":
    main()
