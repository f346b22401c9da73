"""The file shuffle: document numbers round-trip, key ranges partition the records (one file per map task), groups
are runs of equal keys, ranges grow with the records."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from curate.ops.shuffle import files as shuffle
from curate.ops.shuffle.files import (
    RECORDS_PER_RANGE,
    doc_numbers,
    group_bounds,
    ranges_for,
    read_key_range,
    split_doc_numbers,
    write_ranges,
)


def test_document_numbers_sort_like_the_input_and_round_trip():
    docs = np.concatenate([doc_numbers(0, 3), doc_numbers(2, 2), doc_numbers(10, 1)])
    assert np.all(np.diff(docs.astype(np.int64)) > 0)
    partitions, rows = split_doc_numbers(docs)
    assert partitions.tolist() == [0, 0, 0, 2, 2, 10] and rows.tolist() == [0, 1, 2, 0, 1, 0]


def test_group_bounds():
    assert group_bounds(pa.array([1, 1, 2, 3, 3, 3])).tolist() == [0, 2, 3, 6]
    assert group_bounds(pa.chunked_array([[5], [5, 6]])).tolist() == [0, 2, 3]
    assert group_bounds(pa.array([], pa.int64())).tolist() == [0]


@pytest.mark.parametrize("row_group_rows", [1 << 20, 3])  # 3: a range spans several row groups
def test_every_record_lands_in_exactly_its_range(tmp_path, monkeypatch, row_group_rows):
    monkeypatch.setattr(shuffle, "ROW_GROUP_ROWS", row_group_rows)
    records = pa.table({"key": pa.array(np.arange(20, dtype=np.uint64)), "doc": pa.array(np.arange(20) * 7)})
    for partition in range(2):
        write_ranges(records, np.arange(20) % 4, 4, str(tmp_path), partition)
    write_ranges(records.slice(0, 0), np.zeros(0, np.int64), 4, str(tmp_path), 2)  # an empty partition
    for key_range in range(4):
        table = read_key_range(str(tmp_path), key_range, 3)
        assert table.num_rows == 10  # five keys from each of the two partitions, in partition order
        assert table.column("key").to_pylist() == [k for k in range(20) if k % 4 == key_range] * 2
        assert table.schema.metadata is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part-00000.parquet", "part-00001.parquet",
                                                          "part-00002.parquet"]  # one file per map task


def test_ranges_grow_with_records_not_partitions():
    assert [ranges_for(n) for n in (0, 1, RECORDS_PER_RANGE, RECORDS_PER_RANGE + 1, 2_500_000)] == [1, 1, 1, 2, 3]
