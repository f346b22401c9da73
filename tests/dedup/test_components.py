"""Connected components equal a plain union-find's, labelled by each component's smallest document."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from curate.ops.dedup.components import component_labels


def union_find_roots(edges: list[tuple[int, int]]) -> dict[int, int]:
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = root(a), root(b)
        parent[max(ra, rb)] = min(ra, rb)
    return {node: root(node) for node in parent}


@given(st.lists(st.tuples(st.integers(0, 2**40), st.integers(0, 2**40)) | st.tuples(st.integers(0, 30),
                                                                                     st.integers(0, 30)),
                max_size=120))
def test_components_equal_union_find(edges):
    nodes, labels = component_labels(np.array(edges, dtype=np.uint64).reshape(-1, 2))
    assert dict(zip(nodes.tolist(), labels.tolist())) == union_find_roots(edges)


def test_a_long_chain_is_one_component():
    chain = np.array([[i, i + 1] for i in range(5000)][::-1], dtype=np.uint64)
    nodes, labels = component_labels(chain)
    assert len(nodes) == 5001 and set(labels.tolist()) == {0}


def test_no_edges():
    nodes, labels = component_labels(np.zeros((0, 2), np.uint64))
    assert len(nodes) == 0 and len(labels) == 0
