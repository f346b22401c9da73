"""minhash_dedup against brute-force Jaccard: real extracted pages with planted near-duplicates at known
similarities; clusters are checked pair by pair. Also: the same bytes on Ray, and a resumed run's bytes."""

from __future__ import annotations

import random
import subprocess
import sys
from itertools import combinations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import sparse

from curate.ops.dedup.lsh import detection_probability
from curate.ops.dedup.minhash import shingles
from curate.executors import make_executor
from tests.conftest import ROOT, output_files
from tests.ops.dedup_helpers import run_dedup, write_partitions

THRESHOLD = 0.8
# Each page gets one copy above the threshold and one below. The planted similarities keep clear of the threshold
# (0.7 and 0.9): at 0.8 itself the estimate from 112 slots has a standard deviation of 0.04, so a pair there is a coin
# toss for any MinHash method.
LEVELS_ABOVE = (0.9, 0.95, 1.0)
LEVELS_BELOW = (0.3, 0.5, 0.7)


def s_curve_table(bands: int, rows: int) -> str:
    """The S-curve as text, one similarity a line. Example line: 's=0.80  P(candidate)=0.924'."""
    return "\n".join(f"s={s:.2f}  P(candidate)={float(detection_probability(s, bands, rows)):.3f}"
                     for s in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0))


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def near_duplicate(text: str, level: float, rng: random.Random) -> str:
    """`text` with the fewest words replaced by fresh tokens (at random positions) that bring the shingle Jaccard
    similarity down to `level` or below, found by bisection on the number of words replaced."""
    words, original = text.split(), set(shingles(text, 5))
    positions = rng.sample(range(len(words)), len(words))
    fresh = [f"planted{rng.randrange(10**9)}" for _ in words]

    def edited(count: int) -> str:
        replaced = list(words)
        for position in positions[:count]:
            replaced[position] = fresh[position]
        return " ".join(replaced)

    low, high = 0, len(words)
    while low < high:
        middle = (low + high) // 2
        if jaccard(original, set(shingles(edited(middle), 5))) <= level:
            high = middle
        else:
            low = middle + 1
    return edited(low)


def similar_pairs(texts: list[str], threshold: float) -> set[tuple[int, int]]:
    """Brute force: every pair of documents whose shingle sets have Jaccard similarity >= threshold."""
    vocabulary: dict[bytes, int] = {}
    rows, cols = [], []
    for row, text in enumerate(texts):
        for shingle in set(shingles(text, 5)):
            rows.append(row)
            cols.append(vocabulary.setdefault(shingle, len(vocabulary)))
    matrix = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(texts), len(vocabulary)))
    overlap = (matrix @ matrix.T).tocoo()
    sizes = np.asarray(matrix.sum(axis=1)).ravel()
    union = sizes[overlap.row] + sizes[overlap.col] - overlap.data
    similar = (overlap.row < overlap.col) & (overlap.data / np.maximum(union, 1) >= threshold)
    return set(zip(overlap.row[similar].tolist(), overlap.col[similar].tolist()))


@pytest.fixture(scope="module")
def planted(quickstart_local, tmp_path_factory):
    rows = pq.read_table(quickstart_local / "text", columns=["source", "text"]).to_pylist()
    # In crawl order (file, then offset), whatever the partitions' names: the selection below keeps the first page
    # of each family, so the order decides which pages are measured.
    rows.sort(key=lambda row: (row["source"].rsplit(":", 1)[0], int(row["source"].rsplit(":", 1)[1])))
    texts = [row["text"] for row in rows if len(row["text"].split()) >= 60]
    # The sample has families of near-identical pages (one site's templates); keep one page of each, so that the
    # planted pairs are what is measured. Brute force below still checks every pair.
    related = similar_pairs(texts, 0.3)
    pages = [t for i, t in enumerate(texts) if not any((j, i) in related for j in range(i))]
    rng = random.Random(0)
    documents = [{"id": f"page-{i:04d}", "text": text} for i, text in enumerate(pages)]
    for i, text in enumerate(pages):
        for level in (LEVELS_ABOVE[i % 3], LEVELS_BELOW[i % 3]):
            documents.append({"id": f"copy-{i:04d}-{level}", "text": near_duplicate(text, level, rng)})
    rng.shuffle(documents)
    data = tmp_path_factory.mktemp("planted")
    write_partitions(data, documents, 4)
    return data, documents


def clustered_pairs(workdir, documents) -> set[tuple[int, int]]:
    index = {d["id"]: i for i, d in enumerate(documents)}
    rows = pa.concat_tables([pq.read_table(workdir / "deduped", columns=["id", "dup_cluster"]),
                             pq.read_table(workdir / "_rejected" / "deduped", columns=["id", "dup_cluster"])])
    clusters: dict[str, list[int]] = {}
    for doc_id, cluster in zip(rows.column("id").to_pylist(), rows.column("dup_cluster").to_pylist()):
        clusters.setdefault(cluster, []).append(index[doc_id])
    return {tuple(sorted(pair)) for members in clusters.values() for pair in combinations(members, 2)}


def test_clusters_against_brute_force_jaccard(tmp_path, planted):
    data, documents = planted
    reports = run_dedup(tmp_path, data, f"{{minhash_dedup: {{input: docs, threshold: {THRESHOLD}}}}}")
    truth = similar_pairs([d["text"] for d in documents], THRESHOLD)
    found = clustered_pairs(tmp_path / "out", documents)
    precision = len(found & truth) / max(1, len(found))
    recall = len(found & truth) / max(1, len(truth))
    print(f"\n{len(documents)} documents, {len(truth)} pairs with Jaccard >= {THRESHOLD}, {len(found)} clustered: "
          f"precision {precision:.4f}, recall {recall:.4f}\nS-curve of 14 bands x 8 rows:\n" + s_curve_table(14, 8))
    assert len(truth) >= 100 and len(found) >= 100
    assert precision >= 0.99 and recall >= 0.95
    stage = reports[-1].stages[0]
    assert stage.is_balanced() and stage.docs_in == len(documents)
    kept = pq.read_table(tmp_path / "out" / "deduped")
    assert kept.schema.field("minhash").type == pa.list_(pa.uint32(), 112)
    survivors = {c for c in kept.column("dup_cluster").to_pylist()}
    assert survivors == set(kept.column("id").to_pylist())  # each cluster keeps exactly its smallest id


def test_without_verification_and_with_derived_bands(tmp_path, planted):
    data, documents = planted
    run_dedup(tmp_path, data, "{minhash_dedup: {input: docs, verify: false, num_perm: 128, bands: null, rows: null}}")
    truth = similar_pairs([d["text"] for d in documents], THRESHOLD)
    found = clustered_pairs(tmp_path / "out", documents)
    assert len(found & truth) / len(truth) >= 0.95
    kept = pq.read_table(tmp_path / "out" / "deduped")
    assert kept.schema.field("minhash").type == pa.list_(pa.uint32(), 128)


@pytest.mark.parametrize("kill_at", ["map_keys:3", "reduce_keys:2", "write_deduplicated:3"])
def test_a_run_killed_in_any_phase_resumes_to_the_same_bytes(tmp_path, planted, kill_at):
    """SIGKILL at the kill_at-th task of a phase (tests/kill_run.py), on data with real near-duplicate clusters; the
    rerun computes only the tasks the killed run had not finished."""
    data, _ = planted
    node = "{minhash_dedup: {input: docs, shuffle_ranges: 4}}"  # 4 reduce tasks (the default makes 1 here)
    run_dedup(tmp_path, data, node, workdir="clean")
    run_dedup(tmp_path, data, node, workdir="resumed", run=False)
    pipeline = str(tmp_path / "resumed.yaml")
    command = [sys.executable, "-m", "tests.kill_run", pipeline]
    assert subprocess.run([*command, "--kill-at", kill_at], cwd=ROOT, capture_output=True).returncode == -9
    resumed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    phase, count = kill_at.split(":")
    finished_before_the_kill = int(count) - 1
    assert f"{phase}: {4 - finished_before_the_kill} of 4 tasks to compute" in resumed.stdout
    assert output_files(tmp_path / "resumed") == output_files(tmp_path / "clean")


@pytest.mark.ray
def test_ray_gives_the_same_bytes(tmp_path, planted, ray_cluster):
    data, _ = planted
    node = "{minhash_dedup: {input: docs, shuffle_ranges: 3}}"
    run_dedup(tmp_path, data, node, workdir="local")
    run_dedup(tmp_path, data, node, executor=make_executor("ray"), workdir="ray")
    assert output_files(tmp_path / "ray") == output_files(tmp_path / "local")


def test_a_corpus_without_duplicates_passes_whole(tmp_path):
    documents = [{"id": f"d{i}", "text": f"document number {i} says something else entirely {i * 7}"} for i in range(9)]
    write_partitions(tmp_path / "data", documents, 2)
    reports = run_dedup(tmp_path, tmp_path / "data", "{minhash_dedup: {input: docs}}")
    assert reports[-1].docs_out == 9 and reports[-1].rejected_out == 0
    kept = pq.read_table(tmp_path / "out" / "deduped")
    assert kept.column("dup_cluster").to_pylist() == kept.column("id").to_pylist()
    assert set(kept.column("dup_cluster_size").to_pylist()) == {1}


def test_every_document_enters_fineweb_s_fourteen_bands(tmp_path):
    """A default node bands signatures as FineWeb does, 14 bands of 8 rows: the map writes 14 keys a document, each
    the key of that band of the document's stored signature (one band fewer would miss every pair that shares only
    the last band, a loss no cluster check sees)."""
    from curate.ops.dedup.lsh import band_keys
    from curate.ops.shuffle.files import read_key_range
    from curate.ops.shuffle.operation import ShuffleTask
    from curate.ops.minhash_dedup import MinHashDedup, signature_file
    from curate.tables import load_array

    texts = ["the quick brown fox jumps over the lazy dog again and again",
             "a completely different sentence about curating web text for training",
             ""]
    source = tmp_path / "part.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "c"], "text": texts}), source)
    operation = MinHashDedup(input="docs")
    task = ShuffleTask(operation, 0, str(tmp_path / "scratch"), ranges=1, partitions=1, input_path=str(source))
    assert operation.map_partition(task) == 3
    records = read_key_range(task.shuffle_dir, 0, 1).sort_by([("doc", "ascending"), ("key", "ascending")])
    signatures = load_array(signature_file(task.scratch, 0))
    expected = np.sort(band_keys(signatures[:2], 14, 8), axis=1).reshape(-1)  # (the empty text gets no key)
    assert records.column("key").to_numpy().tolist() == expected.tolist()
    assert np.unique(records.column("doc").to_numpy(), return_counts=True)[1].tolist() == [14, 14]
