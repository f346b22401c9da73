"""MinHash signatures per second: curate against datasketch and datatrove, on the same documents, in one process.

Documents: every WARC file of the shared corpus, extracted with curate (as bench/filters.py). Each tool goes from
text to a 112-slot signature (5-word shingles), single-threaded, one after the other:
- curate: `MinHasher.text_signatures` (the C kernel, and the NumPy path it falls back to without a compiler);
- datasketch: `MinHash(num_perm=112)` fed curate's shingles with `update` per shingle (its documented use) and with
  `update_batch`; the signatures are compared with curate's, slot by slot;
- datatrove: `MinhashDedupSignature.get_shingles` + `get_signature` (its word tokenizer, xxhash-64 shingles and the
  mod-(2^61-1) permutations), without writing its signature files.

    python bench/minhash.py [--repeat N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved  # noqa: E402
from filters import load_documents  # noqa: E402

from curate.ops.dedup.minhash import MinHasher, shingles  # noqa: E402

NUM_PERM, NGRAM, SEED = 112, 5, 1


def datasketch_runs(texts: list[str], reference: np.ndarray) -> list:
    from datasketch import MinHash

    def per_shingle() -> int:
        for text in texts:
            signature = MinHash(num_perm=NUM_PERM, seed=SEED)
            for shingle in shingles(text, NGRAM):
                signature.update(shingle)
        return len(texts)

    def batched() -> int:
        agree = 0
        for text, expected in zip(texts, reference):
            signature = MinHash(num_perm=NUM_PERM, seed=SEED)
            signature.update_batch(shingles(text, NGRAM))
            agree += bool(np.array_equal(signature.hashvalues, expected))
        print(f"datasketch signatures equal to curate's: {agree} of {len(texts)}")
        return len(texts)

    return {"datasketch update": per_shingle, "datasketch update_batch": batched}


def datatrove_run(texts: list[str]):
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

    with tempfile.TemporaryDirectory() as folder:
        block = MinhashDedupSignature(output_folder=folder, config=MinhashConfig(n_grams=NGRAM, num_buckets=14,
                                                                                 hashes_per_bucket=8, seed=SEED))

        def work() -> int:
            for text in texts:
                hashed = block.get_shingles(text)
                if hashed.size:  # as its run(): a text of fewer than n words has no signature
                    block.get_signature(hashed)
            return len(texts)

        return {"datatrove MinhashDedupSignature": work}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="concatenate the documents this many times")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; each figure is their median")
    args = parser.parse_args()
    texts = load_documents().column("text").to_pylist() * args.repeat
    characters = sum(map(len, texts))
    print(f"{len(texts)} documents, {characters / 1e6:.1f} M characters, {NUM_PERM} slots, {NGRAM}-word shingles")
    hasher = MinHasher(NUM_PERM, SEED)
    reference = hasher.text_signatures(texts, NGRAM)
    works = {"curate (C kernel)": lambda: len(hasher.text_signatures(texts, NGRAM)),
             "curate (NumPy path)": lambda: len(hasher.text_signatures(texts, NGRAM, use_c=False)),
             **datasketch_runs(texts, reference)}
    try:
        works.update(datatrove_run(texts))
    except ImportError as error:
        print(f"datatrove not installed ({error}); `make bench` installs it")
    timings = interleaved(works, repeats=args.repeats)
    curate_c, curate_numpy = timings["curate (C kernel)"], timings["curate (NumPy path)"]
    others = [t for label, t in timings.items() if not label.startswith("curate")]
    print(f"\n{'tool':<34}{'docs/s':>10}{'curate C is':>14}{'curate NumPy is':>18}")
    for timing in [curate_c, curate_numpy, *others]:
        print(f"{timing.label:<34}{timing.per_second:>10,.0f}{curate_c.per_second / timing.per_second:>13.2f}x"
              f"{curate_numpy.per_second / timing.per_second:>17.2f}x")


if __name__ == "__main__":
    main()
