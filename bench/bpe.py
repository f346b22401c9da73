"""BPE training time and encoding throughput: curate against Hugging Face tokenizers and tiktoken, side by side.

Corpus: all of the shared corpus's reference text (target_text) plus the web text curate extracts from its packed
WARC files (resiliparse engine, for speed). Training: curate counts pre-tokens with a process pool of `--workers`
(as its train_bpe node does on the executor) and learns merges in one process; Hugging Face's BpeTrainer uses its own
threads (RAYON_NUM_THREADS = workers). Encoding: the same texts, single-threaded, through curate's fast path, a
tiktoken Encoding built directly from the same ranks, Hugging Face's encode_batch on the exported tokenizer.json,
and curate's readable reference encoder on a sample (HF's encode, one text at a time, stays on one thread).

    python bench/bpe.py [--vocab 8192 32768] [--workers 2] [--mb N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import corpus_or_exit, interleaved, timed  # noqa: E402

from curate.stages.extract import Extract  # noqa: E402
from curate.stages.warc import WarcReader  # noqa: E402
from curate.stats import StageStats  # noqa: E402
from tokenizer.export import to_huggingface  # noqa: E402
from tokenizer.fast import encode_batch, tiktoken_encoding  # noqa: E402
from tokenizer.pretokenize import GPT2_PATTERN, count_pretokens  # noqa: E402
from tokenizer.train import train_bpe  # noqa: E402

EOT = "<|endoftext|>"


def load_texts(corpus: Path, megabytes: float) -> list[str]:
    texts = []
    for path in sorted((corpus / "target_text").glob("*.jsonl")):
        texts += [json.loads(line)["text"] for line in path.read_text().splitlines()]
    reader, extract = WarcReader(), Extract(engine="resiliparse")
    for path in sorted((corpus / "warc" / "packed").glob("*.warc.gz")):
        for batch in reader.read(str(path), StageStats("warc"), 500):
            texts += extract.process(batch.kept, StageStats("extract")).kept.column("text").to_pylist()
    if megabytes:
        kept, size = [], 0
        for text in texts:
            if size >= megabytes * 1e6:
                break
            kept.append(text)
            size += len(text.encode())
        texts = kept
    return texts


def _count_chunk(texts: list[str]) -> Counter[bytes]:
    return count_pretokens(texts, GPT2_PATTERN, [EOT])


def curate_train(texts: list[str], vocab_size: int, workers: int):
    chunks = [texts[i::workers * 4] for i in range(workers * 4)]
    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        counts: Counter[bytes] = Counter()
        for part in pool.map(_count_chunk, chunks):
            counts.update(part)
    counted = time.perf_counter() - started
    tokenizer = train_bpe(counts, vocab_size, special_tokens=[EOT])
    return tokenizer, counted, time.perf_counter() - started - counted


def hf_train(texts: list[str], vocab_size: int):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(GPT2_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), min_frequency=2)
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocab", type=int, nargs="+", default=[8192, 32768])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--mb", type=float, default=0, help="use only the first N MB of text (0: all)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; each figure is their median")
    args = parser.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(args.workers)
    texts = load_texts(corpus_or_exit(), args.mb)
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    print(f"corpus: {len(texts)} documents, {megabytes:.1f} MB; {args.workers} workers\n")

    print(f"{'vocab':>6} {'curate count s':>14} {'curate merge s':>14} {'curate total s':>14} {'HF train s':>10} "
          f"{'HF / curate':>11}")
    tokenizers = {}
    for vocab in args.vocab:
        started = time.perf_counter()
        tokenizer, count_s, merge_s = curate_train(texts, vocab, args.workers)
        total = time.perf_counter() - started
        hf = timed("hf", lambda: hf_train(texts, vocab) and 1)
        tokenizers[vocab] = tokenizer
        print(f"{vocab:>6} {count_s:>14.1f} {merge_s:>14.1f} {total:>14.1f} {hf.wall_s:>10.1f} "
              f"{hf.wall_s / total:>10.2f}x")

    from tokenizers import Tokenizer as HFTokenizer

    print(f"\n{'vocab':>6} {'encoder (1 thread)':<28} {'MB/s':>7} {'vs tiktoken':>11}")
    sample = texts[: max(1, len(texts) // 20)]
    sample_mb = sum(len(t.encode()) for t in sample) / 1e6
    for vocab, tokenizer in tokenizers.items():
        encoding = tiktoken_encoding(tokenizer)
        hf = HFTokenizer.from_str(json.dumps(to_huggingface(tokenizer)))
        runs = [
            ("tiktoken (same ranks)", megabytes, lambda: len(encoding.encode_ordinary_batch(texts, num_threads=1))),
            ("curate fast path", megabytes, lambda: len(encode_batch(tokenizer, texts, num_threads=1))),
            ("HF tokenizers", megabytes, lambda: sum(len(hf.encode(t).ids) for t in texts)),
            ("curate reference (5% sample)", sample_mb, lambda: sum(len(tokenizer.encode(t)) for t in sample)),
        ]
        timings = interleaved({label: work for label, _, work in runs}, repeats=args.repeats)
        results = [(label, size / timings[label].wall_s) for label, size, _ in runs]
        for label, rate in results:
            print(f"{vocab:>6} {label:<28} {rate:>7.2f} {rate / results[0][1]:>10.2f}x")


if __name__ == "__main__":
    main()
