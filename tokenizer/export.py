"""Exports of a curate tokenizer: the Hugging Face files (`tokenizer.json`, `tokenizer_config.json`,
`special_tokens_map.json`, which `transformers.AutoTokenizer.from_pretrained(folder)` loads) and tiktoken's rank file.

Hugging Face's byte-level BPE stores tokens as printable strings: GPT-2 maps each byte to a visible Unicode character
(`bytes_to_unicode` below), so that vocabulary and merges can be written as JSON text.
"""

from __future__ import annotations

import base64

from tokenizer.bpe import Tokenizer


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table (openai/gpt-2 encoder.py).

    Printable Latin-1 bytes map to themselves; the other 68 bytes map to U+0100 and up, in byte order.
    Example: bytes_to_unicode()[ord("a")] -> "a"; bytes_to_unicode()[ord(" ")] -> "Ġ"
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    shift = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + shift)
            shift += 1
    return table


def to_huggingface(tokenizer: Tokenizer) -> dict:
    """A `tokenizer.json` for Hugging Face `tokenizers` that encodes exactly as curate does."""
    byte_chars = bytes_to_unicode()

    def show(token: bytes) -> str:
        return "".join(byte_chars[b] for b in token)

    vocab = tokenizer.vocab
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
             "special": True} for s, i in sorted(tokenizer.specials.items(), key=lambda kv: kv[1])
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": tokenizer.pattern}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        ]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
            # ignore_merges=False: a pre-token that is itself a token is still built by merges, as curate does.
            "ignore_merges": False,
            # The special tokens are in the vocabulary too, as in GPT-2's (its <|endoftext|> is id 50256 of 50257):
            # transformers' `vocab_size` counts the model's vocabulary only, and a model sized by it must hold every
            # id a token shard contains. Merges never build them, so encoding is unchanged.
            "vocab": {**{show(token): i for i, token in enumerate(vocab)}, **tokenizer.specials},
            "merges": [[show(vocab[a]), show(vocab[b])] for a, b in tokenizer.merges],
        },
    }


def special_roles(tokenizer: Tokenizer) -> dict[str, str]:
    """Which special token plays which role for `transformers`: GPT-2's convention, one `<|endoftext|>` as
    end-of-sequence, beginning-of-sequence and unknown token (openai-community/gpt2's special_tokens_map.json), so a
    trainer that asks for `eos_token_id` gets the id tokenize appends to every document.

    Example: special_roles(a tokenizer with specials ["<|endoftext|>"])
             -> {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
    """
    if not tokenizer.specials:
        return {}
    ordered = sorted(tokenizer.specials, key=tokenizer.specials.__getitem__)
    end = "<|endoftext|>" if "<|endoftext|>" in tokenizer.specials else ordered[0]
    return {"bos_token": end, "eos_token": end, "unk_token": end}


def to_huggingface_config(tokenizer: Tokenizer) -> dict:
    """`tokenizer_config.json`: the fast tokenizer class, the special tokens' roles, and no tokens added on encode
    (curate's shards append `<|endoftext|>` themselves; GPT-2's config adds none either)."""
    return {"tokenizer_class": "PreTrainedTokenizerFast", **special_roles(tokenizer), "add_bos_token": False,
            "add_eos_token": False, "clean_up_tokenization_spaces": False,
            "model_max_length": 1_000_000_000_000_000_019_884_624_838_656}  # transformers' "no limit" sentinel


def to_tiktoken_ranks(tokenizer: Tokenizer) -> str:
    """tiktoken's `.tiktoken` format: one "base64(token bytes) rank" line per token, specials excluded.

    Load with tiktoken.load.load_tiktoken_bpe(path) and pass the specials and pattern to tiktoken.Encoding.
    """
    return "".join(f"{base64.b64encode(token).decode()} {rank}\n" for rank, token in enumerate(tokenizer.vocab))
