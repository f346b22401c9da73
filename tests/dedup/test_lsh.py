"""LSH parameters equal datasketch's optimal-parameter search; band keys are equal exactly when bands are."""

from __future__ import annotations

import numpy as np
import pytest

from curate.ops.dedup.lsh import band_keys, detection_probability, optimal_bands_rows


@pytest.mark.parametrize("threshold, num_perm", [(0.5, 64), (0.7, 112), (0.8, 112), (0.8, 128), (0.9, 128),
                                                 (0.85, 256)])
def test_optimal_parameters_equal_datasketch(threshold, num_perm):
    lsh = pytest.importorskip("datasketch.lsh")
    assert optimal_bands_rows(threshold, num_perm) == lsh._optimal_param(threshold, num_perm, 0.5, 0.5)


def test_detection_probability_is_the_s_curve():
    assert detection_probability(1.0, 14, 8) == 1.0
    assert detection_probability(0.0, 14, 8) == 0.0
    assert abs(detection_probability(0.8, 14, 8) - (1 - (1 - 0.8**8) ** 14)) < 1e-12
    curve = detection_probability(np.linspace(0, 1, 21), 14, 8)
    assert np.all(np.diff(curve) >= 0)


def test_band_keys_match_exactly_the_equal_bands():
    rng = np.random.default_rng(0)
    signatures = rng.integers(0, 2**32, size=(50, 16), dtype=np.uint64).astype(np.uint32)
    signatures[1, :4] = signatures[0, :4]  # documents 0 and 1 share band 0 only
    signatures[2, 4:8] = signatures[0, 12:16]  # the same values in different bands must not match
    keys = band_keys(signatures, 4, 4)
    assert keys.shape == (50, 4)
    assert keys[0, 0] == keys[1, 0] and not np.any(keys[0, 1:] == keys[1, 1:])
    assert keys[2, 1] != keys[0, 3]
    assert len(np.unique(keys)) == 50 * 4 - 1


def test_too_many_bands_is_an_error():
    with pytest.raises(ValueError, match="exceeds the signature length"):
        band_keys(np.zeros((2, 8), np.uint32), 3, 3)
