"""Which blocks of a page are its main text: the `blocks` extraction engine's classifier.

Each block (curate/stages/html_blocks.py) becomes a vector of shallow features: its own (words, link density,
sentence punctuation, tag), its context (structural ancestors, class/id keyword groups, whether it lies in the
page's densest prose container, the way readability picks its candidate; its container's size and link density),
its neighbours' (boilerpipe's finding: the blocks around a block say as much as the block itself; Kohlschütter et
al. 2010), the page's (whether it names an article body at all) and where reader comments begin (a comments
heading or a comment's byline before the block: curate's convention leaves comments out). Three small two-layer
networks and a forest of gradient-boosted trees score the vector, and the mean of the two probabilities decides;
blocks above the model's threshold are the main text, in page order, one per line.

Both are trained by curate from pages with gold main text (models/train_block_classifier.py, on the `tune` half of
the extraction benchmarks; docs/extraction.md) and ship as models/block_classifier.json: the networks evaluated with
numpy, the trees in C (curate/stages/_forest.c, with a numpy path of the same sums): no model is downloaded, and
neither torch nor LightGBM is needed at run time.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass

import numpy as np

from curate import storage
from curate.stages.html_blocks import CONTEXT_TAGS, KEYWORD_BITS, KEYWORD_GROUPS, TAG_BITS, Block

DEFAULT_MODEL = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "models",
                                              "block_classifier.json"))
TAG_GROUPS = (("p",), ("h1", "h2", "h3", "h4", "h5", "h6"), ("li", "dd", "dt"), ("td", "th"), ("div",),
              ("pre", "blockquote"), ("body", "article", "section", "main", "center", "form"))
NEIGHBOUR_OFFSETS = (-2, -1, 1, 2)


def _character_classes() -> np.ndarray:
    """A class bit set for each code point of the Basic Multilingual Plane (see character_counts)."""
    points = np.arange(0x10000)
    classes = np.zeros(0x10000, dtype=np.uint8)
    classes[48:58] |= _DIGIT
    upper = np.zeros(0x10000, dtype=bool)
    upper[65:91] = upper[0xC0:0xDF] = upper[0x410:0x430] = True
    upper[0xD7] = False
    classes[upper] |= _UPPER
    word = upper | ((points >= 48) & (points <= 57)) | ((points >= 97) & (points <= 122)) | (points == 95)
    word |= ((points >= 0xC0) & ~((points >= 0x2000) & (points <= 0x2BFF)) & ~((points >= 0x3000) & (points <= 0x303F))
             & ~((points >= 0xFF00) & (points <= 0xFF0F)) & ~((points >= 0xD800) & (points <= 0xDFFF)))
    word[0xFFFF] = True
    classes[word] |= _WORD
    classes[[ord(mark) for mark in ".!?。！？"]] |= _SENTENCE_END
    classes[[ord(mark) for mark in ".!?。！？\"”’)»:"]] |= _CLOSING
    return classes


_DIGIT, _UPPER, _WORD, _SENTENCE_END, _CLOSING = 1, 2, 4, 8, 16
_CHARACTER_CLASSES = _character_classes()
# Where reader comments begin, in the words blogs and news sites print (WordPress's "3 Responses to ...", "Leave a
# Reply", a comment's byline "Milan on May 2 at 4:47 pm said:"): the article ends before them, and curate's convention,
# FineWeb's, leaves comments out. Only short blocks are tested (a marker is a heading or a byline), a heading's words
# at the block's start, a byline's at its end (block texts end in no whitespace, so 24 characters hold any of them).
COMMENT_HEADING = re.compile(r"(?:\d+\s+)?(?:comments?|responses?|replies|reader comments|discussion)\b"
                             r"|(?:leave|post|add|write) (?:a|your) (?:comment|reply|response)", re.IGNORECASE)
COMMENT_BYLINE = re.compile(r"\b(?:said|says|wrote|writes|replied|commented)\s*:?\s*$", re.IGNORECASE)
MAX_MARKER_CHARS = 160
BYLINE_TAIL_CHARS = 24


def comment_marker(text: str) -> bool:
    """Whether a block marks where comments begin. Example: comment_marker("Leave a Reply") -> True;
    comment_marker("Blake Hall says:") -> True; comment_marker("The committee says the budget is fine") -> False"""
    return len(text) <= MAX_MARKER_CHARS and (
        COMMENT_HEADING.match(text) is not None
        or COMMENT_BYLINE.search(text, max(len(text) - BYLINE_TAIL_CHARS, 0)) is not None)


# Readability.js scores a paragraph of at least 25 characters into its parent (full) and grandparent (half); the
# densest container is the candidate, and its content is the article.
MIN_CANDIDATE_CHARS = 25
ANCESTOR_SHARES = (1.0, 0.5, 1 / 3)

_OWN = ("log_words", "log_chars", "link_density", "sentence_ends_per_word", "ends_sentence", "commas_per_word",
        "capitalised_share", "digit_share", "mean_word_length", "depth", "position", "chars_before",
        "page_share", "in_candidate", "candidate_prose_share", "before_candidate", "after_candidate",
        "container_log_words", "container_link_density", "container_blocks", "starts_in_link",
        "page_has_article_body", "page_has_marked_article", "page_has_article_tag", "comment_marker",
        "after_comment_marker", "n-1_comment_marker")
FEATURE_NAMES = (_OWN + tuple(f"tag_{group[0]}" for group in TAG_GROUPS)
                 + tuple(f"in_{tag}" for tag in CONTEXT_TAGS) + tuple(f"kw_{name}" for name in KEYWORD_GROUPS)
                 + tuple(f"own_kw_{name}" for name in KEYWORD_GROUPS)
                 + tuple(f"n{offset:+d}_{name}" for offset in NEIGHBOUR_OFFSETS
                         for name in ("log_words", "link_density", "sibling", "absent"))
                 + ("page_log_words", "page_link_share", "page_log_blocks"))


def block_features(blocks: list[Block]) -> np.ndarray:
    """The feature matrix of a page's blocks, one row each, columns as FEATURE_NAMES."""
    count = len(blocks)
    texts = [block.text for block in blocks]
    counts = character_counts(texts)
    word_counts = counts["words"]
    per_word = np.maximum(word_counts, 1.0)
    lengths = np.array([len(text) for text in texts], dtype=np.float64)
    chars = np.array([max(block.chars, 1) for block in blocks], dtype=np.float64)
    links = np.array([block.link_chars for block in blocks], dtype=np.float64) / chars
    total_words = max(float(word_counts.sum()), 1.0)

    # readability's candidate: the block element holding the most prose, counting into ancestors with decay
    scores: dict[int, float] = {}
    for block, text, density in zip(blocks, texts, links):
        if len(text) < MIN_CANDIDATE_CHARS or density > 0.5:
            continue
        points = 1 + text.count(",") + min(len(text) / 100, 3)
        for share, number in zip(ANCESTOR_SHARES, reversed(block.path[1:])):
            scores[number] = scores.get(number, 0.0) + share * points
    candidate = max(scores, key=scores.__getitem__) if scores else -1
    in_candidate = np.array([candidate in block.path for block in blocks], dtype=np.float64)
    inside = np.flatnonzero(in_candidate)
    order = np.arange(count)
    before = (order < inside[0]) if len(inside) else np.zeros(count, dtype=bool)
    after = (order > inside[-1]) if len(inside) else np.zeros(count, dtype=bool)
    # the container: the blocks that share the block's parent element (a menu's items, an article's paragraphs)
    parents = [block.path[:-1] for block in blocks]
    container_of: dict[tuple[int, ...], int] = {}
    container = np.array([container_of.setdefault(parent, len(container_of)) for parent in parents], dtype=np.int64)
    container_words = np.bincount(container, weights=word_counts)
    container_chars = np.bincount(container, weights=chars)
    container_links = np.bincount(container, weights=links * chars)
    container_blocks = np.bincount(container)

    columns = [
        np.log1p(word_counts), np.log1p(chars), links,
        counts["sentence_ends"] / per_word, counts["ends_sentence"], counts["commas"] / per_word,
        counts["capitalised"] / per_word, counts["digits"] / lengths,
        np.minimum(counts["word_chars"] / per_word, 20) / 10,
        np.minimum(np.array([len(block.path) for block in blocks], dtype=np.float64), 40) / 20,
        np.arange(count) / max(count - 1, 1),
        (np.cumsum(chars) - chars) / chars.sum(),
        word_counts / total_words, in_candidate,
        np.full(count, float(word_counts[in_candidate > 0].sum()) / total_words), before.astype(np.float64),
        after.astype(np.float64), np.log1p(container_words[container]),
        container_links[container] / container_chars[container], np.log1p(container_blocks[container]),
        np.array([block.starts_in_link for block in blocks], dtype=np.float64)]
    keywords_anywhere = 0
    tags_anywhere = 0
    for block in blocks:
        keywords_anywhere |= block.keyword_bits
        tags_anywhere |= block.tag_bits
    marker = np.array([comment_marker(text) for text in texts], dtype=np.float64)
    columns += [np.full(count, float(bool(keywords_anywhere & KEYWORD_BITS["article_body"]))),
                np.full(count, float(bool(keywords_anywhere & KEYWORD_BITS["marked_article"]))),
                np.full(count, float(bool(tags_anywhere & TAG_BITS["article"]))),
                marker, (np.cumsum(marker) - marker > 0).astype(np.float64), np.concatenate(([0.0], marker[:-1]))]
    tags = [block.tag for block in blocks]
    columns += [np.array([tag in group for tag in tags], dtype=np.float64) for group in TAG_GROUPS]
    for bits, width in (([block.tag_bits for block in blocks], len(CONTEXT_TAGS)),
                        ([block.keyword_bits for block in blocks], len(KEYWORD_GROUPS)),
                        ([block.own_keyword_bits for block in blocks], len(KEYWORD_GROUPS))):
        columns += list(((np.array(bits, dtype=np.int64)[:, None] >> np.arange(width)) & 1).T.astype(np.float64))
    log_words = np.log1p(word_counts)
    for offset in NEIGHBOUR_OFFSETS:
        others = np.arange(count) + offset
        present = (others >= 0) & (others < count)
        clipped = np.clip(others, 0, max(count - 1, 0))
        columns += [np.where(present, log_words[clipped], 0.0), np.where(present, links[clipped], 0.0),
                    (present & (container[clipped] == container)).astype(np.float64), (~present).astype(np.float64)]
    columns += [np.full(count, math.log1p(total_words)), np.full(count, float((links * chars).sum() / chars.sum())),
                np.full(count, math.log1p(count))]
    return np.stack(columns, axis=1)


def character_counts(texts: list[str]) -> dict[str, np.ndarray]:
    """Per text: words, word characters, capitalised words, digits, commas, sentence ends, and whether the text ends
    like a sentence, counted over the code points of all texts at once with numpy (a regular expression per text
    costs more than the rest of the features together).

    A word is a run of word characters, as `\\w+` finds them, approximated by code point: ASCII letters, digits and
    `_`, and every code point from U+00C0 on except general, CJK and full-width punctuation; a capitalised word starts
    with a Latin or Cyrillic capital. Example: character_counts(["Hi, Bob 42."]) -> words 3, capitalised 2,
    digits 2, commas 1, sentence ends 1, ends like a sentence."""
    if not texts:
        return {name: np.zeros(0) for name in ("words", "word_chars", "capitalised", "digits", "commas",
                                               "sentence_ends", "ends_sentence")}
    joined = "\n".join(texts)
    # code points above the Basic Multilingual Plane (CJK extensions, emoji) read as U+FFFF, a word character
    points = np.minimum(np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32), 0xFFFF)
    classes = _CHARACTER_CLASSES[points]
    starts = np.concatenate(([0], np.cumsum([len(text) + 1 for text in texts])[:-1]))
    word = (classes & _WORD) > 0
    word_start = word & ~np.concatenate(([False], word[:-1]))

    def per_text(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values.astype(np.float64), starts)

    ends = starts + np.array([len(text) for text in texts], dtype=np.int64) - 1
    return {"words": per_text(word_start), "word_chars": per_text(word),
            "capitalised": per_text(word_start & ((classes & _UPPER) > 0)), "digits": per_text((classes & _DIGIT) > 0),
            "commas": per_text(points == ord(",")), "sentence_ends": per_text((classes & _SENTENCE_END) > 0),
            "ends_sentence": ((classes[np.maximum(ends, 0)] & _CLOSING) > 0).astype(np.float64)}


@dataclass(frozen=True)
class Network:
    """An average of small two-layer networks over standardised inputs (an ensemble of seeds: one network's verdict
    on a page flips with its seed, the average's far less). For member m,
    p_m = sigmoid(w2[m] . relu(w1[m] (x - mean) / scale + b1[m]) + b2[m]); p = mean of p_m."""

    mean: np.ndarray  # (inputs,)
    scale: np.ndarray  # (inputs,)
    w1: np.ndarray  # (members, hidden, inputs)
    b1: np.ndarray  # (members, hidden)
    w2: np.ndarray  # (members, hidden)
    b2: np.ndarray  # (members,)

    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        members, hidden_units, _ = self.w1.shape
        standard = (inputs - self.mean) / self.scale
        # all members' first layers in one product: (blocks, inputs) x (inputs, members * hidden)
        hidden = np.maximum(standard @ self.w1.reshape(members * hidden_units, -1).T + self.b1.reshape(-1), 0.0)
        logits = np.einsum("bmh,mh->bm", hidden.reshape(len(inputs), members, hidden_units), self.w2) + self.b2
        return (1.0 / (1.0 + np.exp(-logits))).mean(axis=1)

    def to_json(self) -> dict:
        return {key: getattr(self, key).tolist() for key in ("mean", "scale", "w1", "b1", "w2", "b2")}

    @classmethod
    def from_json(cls, data: dict) -> Network:
        return cls(*(np.array(data[key], dtype=np.float64) for key in ("mean", "scale", "w1", "b1", "w2", "b2")))


@dataclass(frozen=True)
class Forest:
    """Gradient-boosted regression trees (LightGBM's, trained by models/train_block_classifier.py) as flat arrays. A
    split node i sends a block left when its feature[i] <= threshold[i], else right; a child >= 0 is a split node, a
    child < 0 the leaf ~child; tree t starts at roots[t] (a tree of one leaf: roots[t] = ~leaf). A block's score is
    the sum of the leaf values its trees lead it to, and p = sigmoid(score).

    Example, one tree splitting on column 0 at 0.5 into leaves -1.0 and +2.0 (index arrays int32, values float64):
    Forest(feature=[0], threshold=[0.5], left=[~0], right=[~1], leaf_value=[-1.0, 2.0], roots=[0])
    scores [[0.2], [0.9]] as [-1.0, 2.0]."""

    feature: np.ndarray  # (split nodes,) int32
    threshold: np.ndarray  # (split nodes,) float64
    left: np.ndarray  # (split nodes,) int32
    right: np.ndarray  # (split nodes,) int32
    leaf_value: np.ndarray  # (leaves,) float64
    roots: np.ndarray  # (trees,) int32

    def scores(self, inputs: np.ndarray) -> np.ndarray:
        """Each row's sum of leaf values, in C where it was built (the same bits as scores_numpy)."""
        if _forest_scores is None:
            return self.scores_numpy(inputs)
        rows = np.ascontiguousarray(inputs, dtype=np.float64)
        out = np.empty(len(rows), dtype=np.float64)
        if len(rows):
            _forest_scores(rows, rows.shape[1], self.feature, self.threshold, self.left, self.right,
                           self.leaf_value, self.roots, out)
        return out

    def scores_numpy(self, inputs: np.ndarray) -> np.ndarray:
        """The reference walk: all rows through one tree at a time, a level per step, sums added tree by tree."""
        rows = np.arange(len(inputs))
        sums = np.zeros(len(inputs))
        for root in self.roots:
            node = np.full(len(inputs), root, dtype=np.int64)
            inner = node >= 0
            while inner.any():
                at = np.where(inner, node, 0)
                go_left = inputs[rows, self.feature[at]] <= self.threshold[at]
                node = np.where(inner, np.where(go_left, self.left[at], self.right[at]), node)
                inner = node >= 0
            sums += self.leaf_value[~node]
        return sums

    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.scores(inputs)))

    def to_json(self) -> dict:
        return {key: getattr(self, key).tolist() for key in _FOREST_ARRAYS}

    @classmethod
    def from_json(cls, data: dict) -> Forest:
        forest = cls(*(np.array(data[key], dtype=kind) for key, kind in _FOREST_ARRAYS.items()))
        forest.check()
        return forest

    @classmethod
    def from_lightgbm(cls, dump: dict) -> Forest:
        """A LightGBM model (lightgbm.Booster.dump_model()) as flat arrays: split nodes numbered in preorder, so that
        every child comes after its parent. Only numerical `<=` splits without missing values, the only kind finite
        features give; anything else is refused rather than evaluated differently from LightGBM."""
        feature: list[int] = []
        threshold: list[float] = []
        children: list[tuple[int, int]] = []
        leaf_value: list[float] = []

        def add(node: dict) -> int:
            if "split_index" not in node:
                leaf_value.append(float(node["leaf_value"]))
                return ~(len(leaf_value) - 1)
            if node["decision_type"] != "<=" or node["missing_type"] != "None":
                raise ValueError(f"block classifier: a LightGBM split curate does not evaluate "
                                 f"({node['decision_type']}, missing values {node['missing_type']})")
            index = len(feature)
            feature.append(int(node["split_feature"]))
            threshold.append(float(node["threshold"]))
            children.append((0, 0))
            children[index] = (add(node["left_child"]), add(node["right_child"]))
            return index

        roots = [add(tree["tree_structure"]) for tree in dump["tree_info"]]
        forest = cls(np.array(feature, dtype=np.int32), np.array(threshold, dtype=np.float64),
                     np.array([left for left, _ in children], dtype=np.int32),
                     np.array([right for _, right in children], dtype=np.int32),
                     np.array(leaf_value, dtype=np.float64), np.array(roots, dtype=np.int32))
        forest.check()
        return forest

    def check(self) -> None:
        """Refuse a forest whose walk could leave its arrays or never end (a child must come after its parent)."""
        nodes, leaves = len(self.feature), len(self.leaf_value)
        index = np.arange(nodes)
        children = np.concatenate((self.left, self.right))
        parents = np.concatenate((index, index))
        if not (len(self.threshold) == len(self.left) == len(self.right) == nodes
                and ((children > parents) & (children < nodes) | (children < 0) & (~children < leaves)).all()
                and ((self.roots < nodes) & (self.roots >= -leaves)).all() and (self.feature >= 0).all()):
            raise ValueError("block classifier: the forest's nodes do not form trees; retrain it with "
                             "models/train_block_classifier.py")


_FOREST_ARRAYS = {"feature": np.int32, "threshold": np.float64, "left": np.int32, "right": np.int32,
                  "leaf_value": np.float64, "roots": np.int32}

try:  # built from curate/stages/_forest.c by setup.py; optional, Forest.scores_numpy gives the same sums
    from curate.stages._forest import scores as _forest_scores
except ImportError:  # pragma: no cover - only where no C compiler was available at install
    _forest_scores = None


@dataclass(frozen=True)
class BlockClassifier:
    """Two models of one kind of evidence, averaged: the networks and the forest (their errors differ: the average's
    out-of-fold F1 beats either alone, docs/extraction.md), and the probability above which a block is main text
    (chosen by cross-validation on the training pages)."""

    network: Network
    forest: Forest
    threshold: float

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        return (self.network.probabilities(features) + self.forest.probabilities(features)) / 2

    def keep(self, features: np.ndarray) -> np.ndarray:
        return keep_blocks(self.probabilities(features), self.threshold)

    def to_json(self) -> dict:
        return {"features": list(FEATURE_NAMES), "network": self.network.to_json(), "forest": self.forest.to_json(),
                "threshold": self.threshold}

    @classmethod
    def from_json(cls, data: dict) -> BlockClassifier:
        if tuple(data["features"]) != FEATURE_NAMES:
            raise ValueError("block classifier: the model was trained on other features than this curate computes; "
                             "retrain it with models/train_block_classifier.py")
        if "forest" not in data:
            raise ValueError("block classifier: the model has networks but no forest (an older recipe's file); "
                             "retrain it with models/train_block_classifier.py")
        return cls(Network.from_json(data["network"]), Forest.from_json(data["forest"]), float(data["threshold"]))


def keep_blocks(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    """Which blocks are main text: those above the threshold; when none is, those within half of the page's best
    probability, so that a page keeps its likeliest text rather than losing it all."""
    kept = probabilities > threshold
    return kept if kept.any() else probabilities >= 0.5 * probabilities.max()


# Classifiers by the SHA-256 of their file, and the digest each path held when last read: a file changed in place (a
# retrained model) is read again at the next batch, never served from a stale cache in a long-lived worker.
_BY_CONTENT: dict[str, BlockClassifier] = {}
_LAST_READ: dict[str, str] = {}


def read_classifier(path: str = DEFAULT_MODEL) -> BlockClassifier:
    """The classifier in `path` as the file is now (`extract` reads it once a batch), parsed once per content.

    BLAS is held to one thread in this process: a page's product is small, and OpenBLAS's threads, once woken, spin
    on every core after each one (measured: twice the CPU per page with two cores, the second spent spinning);
    curate's workers are one process a core anyway."""
    from threadpoolctl import threadpool_limits

    data = storage.read_bytes(path)
    digest = hashlib.sha256(data).hexdigest()
    if digest not in _BY_CONTENT:
        threadpool_limits(limits=1, user_api="blas")
        _BY_CONTENT[digest] = BlockClassifier.from_json(json.loads(data))
    _LAST_READ[path] = digest
    return _BY_CONTENT[digest]


def load_classifier(path: str = DEFAULT_MODEL) -> BlockClassifier:
    """The classifier `path` held when this process last read it (read_classifier), reading it if it never did."""
    digest = _LAST_READ.get(path)
    return _BY_CONTENT[digest] if digest is not None else read_classifier(path)
