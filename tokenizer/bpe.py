"""The tokenizer: a byte-level BPE vocabulary (256 bytes, then one token per merge, then the special tokens), with a
readable reference encoder, a decoder, and curate's own JSON format.

Token ids 0..255 are the bytes themselves; id 256 + i is the result of merge i; special tokens come last. Encoding
follows the merges in the order they were learned, as GPT-2 does:

>>> tok = Tokenizer(merges=[(104, 105)], specials={"<|endoftext|>": 257})   # merge "h" + "i" into token 256
>>> tok.encode("hi hi<|endoftext|>", allowed_special="all")
[256, 32, 256, 257]
>>> tok.decode([256, 32, 256])
'hi hi'
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import regex

from tokenizer.pretokenize import GPT2_PATTERN, split_specials

FORMAT = "curate-bpe"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Tokenizer:
    merges: list[tuple[int, int]]
    specials: dict[str, int] = field(default_factory=dict)
    pattern: str = GPT2_PATTERN

    def __post_init__(self) -> None:
        expected = list(range(256 + len(self.merges), 256 + len(self.merges) + len(self.specials)))
        if sorted(self.specials.values()) != expected:
            raise ValueError(f"special token ids must follow the merges: expected {expected}")

    @property
    def vocab_size(self) -> int:
        return 256 + len(self.merges) + len(self.specials)

    @cached_property
    def vocab(self) -> list[bytes]:
        """The bytes of every non-special token, by id."""
        tokens = [bytes([i]) for i in range(256)]
        for a, b in self.merges:
            tokens.append(tokens[a] + tokens[b])
        return tokens

    @cached_property
    def ranks(self) -> dict[tuple[int, int], int]:
        """Merge priority: the pair merged first has rank 0."""
        return {pair: rank for rank, pair in enumerate(self.merges)}

    @cached_property
    def hash(self) -> str:
        """A content hash of the tokenizer (merges, specials, pattern), recorded in token shard manifests."""
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:16]

    def encode_piece(self, piece: bytes) -> list[int]:
        """BPE on one pre-token: repeatedly merge the adjacent pair learned earliest.

        Example (with merges [(104, 105)]): encode_piece(b"hii") -> [256, 105]
        """
        ids = list(piece)
        while len(ids) > 1:
            pair = min(zip(ids, ids[1:]), key=lambda p: self.ranks.get(p, len(self.ranks)))
            rank = self.ranks.get(pair)
            if rank is None:
                break
            merged, i = [], 0
            while i < len(ids):
                if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
                    merged.append(256 + rank)
                    i += 2
                else:
                    merged.append(ids[i])
                    i += 1
            ids = merged
        return ids

    def encode(self, text: str, *, allowed_special: Literal["all"] | Collection[str] = ()) -> list[int]:
        """Token ids of `text`. Special tokens are encoded as such only when allowed; otherwise as plain text.

        >>> Tokenizer(merges=[]).encode("é")
        [195, 169]
        """
        specials = self.specials if allowed_special == "all" else {s: self.specials[s] for s in allowed_special}
        compiled = regex.compile(self.pattern)
        ids: list[int] = []
        for part in split_specials(text, specials):
            if part in specials:
                ids.append(specials[part])
                continue
            for piece in compiled.findall(part):
                ids.extend(self.encode_piece(piece.encode("utf-8")))
        return ids

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        special_bytes = {i: s.encode("utf-8") for s, i in self.specials.items()}
        return b"".join(special_bytes[i] if i in special_bytes else self.vocab[i] for i in ids)

    def decode(self, ids: Iterable[int]) -> str:
        """Text of any id sequence; byte sequences that are not valid UTF-8 become U+FFFD."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def to_json(self) -> dict:
        return {"format": FORMAT, "version": FORMAT_VERSION, "pattern": self.pattern,
                "merges": [list(pair) for pair in self.merges], "specials": self.specials}

    def save(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(self.to_json(), handle)

    @classmethod
    def load(cls, path: str) -> Tokenizer:
        with open(path, encoding="utf-8") as handle:
            return cls.from_json(json.load(handle), source=path)

    @classmethod
    def from_json(cls, data: dict, source: str = "the data") -> Tokenizer:
        """The tokenizer `to_json` described; ValueError naming `source` when it is not one."""
        if data.get("format") != FORMAT or data.get("version") != FORMAT_VERSION:
            raise ValueError(f"{source}: not a {FORMAT} v{FORMAT_VERSION} tokenizer file")
        return cls(merges=[tuple(pair) for pair in data["merges"]], specials=data["specials"], pattern=data["pattern"])
