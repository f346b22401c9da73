"""Locality-sensitive hashing over MinHash signatures: choosing bands x rows, the detection S-curve, band keys.

Two documents of Jaccard similarity s share all `rows` slots of one band with probability s^rows, so they share at
least one of `bands` bands, and become candidates, with probability 1 - (1 - s^rows)^bands (Leskovec, Rajaraman and
Ullman, "Mining of Massive Datasets", section 3.4.2).
"""

from __future__ import annotations

import numpy as np

from curate.ops.dedup.minhash import fmix

# A band key mixes a band's slots one at a time: k <- fmix64(k * MIX + slot). Any odd 64-bit constant works; this is
# the golden-ratio constant 2^64 / phi used by splitmix64.
MIX = np.uint64(0x9E3779B97F4A7C15)


def detection_probability(similarity: float | np.ndarray, bands: int, rows: int) -> float | np.ndarray:
    """P(two documents of this Jaccard similarity share a band). Example: detection_probability(0.8, 14, 8) ~ 0.92"""
    return 1.0 - (1.0 - np.power(similarity, rows)) ** bands


def optimal_bands_rows(threshold: float, num_perm: int, false_positive_weight: float = 0.5,
                       false_negative_weight: float = 0.5) -> tuple[int, int]:
    """The (bands, rows) with bands * rows <= num_perm that minimise the weighted areas of false positives (below the
    threshold) and false negatives (above it) under the S-curve: datasketch's `MinHashLSH` parameter search
    (`datasketch/lsh.py`, `_optimal_param`), which integrates with the same QUADPACK routine.

    Example: optimal_bands_rows(0.8, 112) -> (9, 12); FineWeb instead fixes 14 bands x 8 rows (detection 0.92 at 0.8)
    """
    # Imported here: scipy.integrate takes 0.3 s to import, which every process unpickling a curate task (each Ray
    # or pool worker, each training subprocess) would pay; only a node configured by threshold calls this.
    from scipy.integrate import quad

    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    best, best_error = (0, 0), float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            false_positive, _ = quad(lambda s: 1 - (1 - s ** float(rows)) ** float(bands), 0.0, threshold)
            false_negative, _ = quad(lambda s: (1 - s ** float(rows)) ** float(bands), threshold, 1.0)
            error = false_positive * false_positive_weight + false_negative * false_negative_weight
            if error < best_error:
                best, best_error = (bands, rows), error
    return best


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(documents, bands) uint64 keys: equal keys mean (up to a 2^-64 collision) equal slots in that band.

    The band's number is mixed in, so equal slot values in different bands give different keys.
    """
    if bands * rows > signatures.shape[1]:
        raise ValueError(f"bands x rows = {bands * rows} exceeds the signature length {signatures.shape[1]}")
    slots = signatures[:, : bands * rows].astype(np.uint64).reshape(len(signatures), bands, rows)
    keys = np.broadcast_to(np.arange(bands, dtype=np.uint64), (len(signatures), bands)).copy()
    for row in range(rows):
        keys = fmix(keys * MIX + slots[:, :, row])
    return keys
