"""The `blocks` classifier's forest: LightGBM's trees as flat arrays, walked in C and in numpy to the same bits."""

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from curate.stages import block_classifier
from curate.stages.block_classifier import DEFAULT_MODEL, Forest, block_features, load_classifier
from curate.stages.extract import parse_html
from curate.stages.html_blocks import page_blocks

# one tree: column 0 <= 0.5 goes to leaf 0, else a second split on column 1 <= -1.0 (leaf 1) or leaf 2; a second
# tree of one leaf adds 0.25 to every row
EXAMPLE = Forest(feature=np.array([0, 1], dtype=np.int32), threshold=np.array([0.5, -1.0]),
                 left=np.array([~0, ~1], dtype=np.int32), right=np.array([1, ~2], dtype=np.int32),
                 leaf_value=np.array([-1.0, 2.0, 3.0, 0.25]), roots=np.array([0, ~3], dtype=np.int32))


def test_the_worked_example():
    rows = np.array([[0.2, 9.0], [0.5, 9.0], [0.9, -5.0], [0.9, 0.0]])
    assert list(EXAMPLE.scores(rows)) == [-0.75, -0.75, 2.25, 3.25]
    assert list(EXAMPLE.scores_numpy(rows)) == [-0.75, -0.75, 2.25, 3.25]


@pytest.mark.skipif(block_classifier._forest_scores is None, reason="the C forest was not built")
def test_the_c_walk_gives_the_numpy_walks_bits_on_real_pages(corpus):
    forest = load_classifier().forest
    folder = corpus / "html" / "aeb"
    entries = [json.loads(line) for line in (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines()][:12]
    for entry in entries:
        tree = parse_html(gzip.decompress((folder / entry["file"]).read_bytes()).decode("utf-8", "replace"))
        features = block_features(page_blocks(tree))
        assert len(features) > 4  # an odd count too: the C walk takes rows four at a time, then one by one
        assert forest.scores(features[:-1]).tobytes() == forest.scores_numpy(features[:-1]).tobytes()
        assert forest.scores(features).tobytes() == forest.scores_numpy(features).tobytes()


@pytest.mark.parametrize("change", [{"left": [~0, 0]}, {"right": [1, 7]}, {"roots": [0, ~9]}, {"feature": [0, -1]}])
def test_a_forest_whose_walk_could_loop_or_leave_its_arrays_is_refused(change):
    data = {**EXAMPLE.to_json(), **change}
    with pytest.raises(ValueError, match="retrain it"):
        Forest.from_json(data)


@pytest.mark.skipif(block_classifier._forest_scores is None, reason="the C forest was not built")
def test_the_c_walk_refuses_a_feature_the_rows_lack():
    with pytest.raises(ValueError, match="out of range"):
        EXAMPLE.scores(np.zeros((3, 1)))


def test_a_lightgbm_model_scores_as_lightgbm_does():
    lightgbm = pytest.importorskip("lightgbm")
    generator = np.random.default_rng(0)
    inputs = generator.normal(size=(2000, 6))
    labels = (inputs[:, 0] + inputs[:, 1] * inputs[:, 2] > 0.3).astype(float)
    booster = lightgbm.train({"objective": "binary", "num_leaves": 15, "verbose": -1, "num_threads": 1,
                              "deterministic": True}, lightgbm.Dataset(inputs, labels), num_boost_round=40)
    forest = Forest.from_lightgbm(booster.dump_model())
    fresh = generator.normal(size=(500, 6))
    np.testing.assert_allclose(forest.scores(fresh), booster.predict(fresh, raw_score=True), rtol=0, atol=1e-12)
    assert forest.scores(fresh).tobytes() == forest.scores_numpy(fresh).tobytes()


def test_the_shipped_model_holds_both_models():
    model = json.loads(Path(DEFAULT_MODEL).read_text(encoding="utf-8"))
    assert set(model) == {"features", "network", "forest", "threshold"}
    assert len(model["forest"]["roots"]) > 1
