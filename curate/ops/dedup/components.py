"""Connected components of the duplicate graph, in memory bounded by its edges (never by the corpus).

Nodes are 64-bit document numbers; only documents that appear in an edge are held. The algorithm is hook-and-
compress (Shiloach and Vishkin 1982) vectorised with NumPy: every edge hooks the larger of its two roots under the
smaller, then pointer jumping flattens the trees, until no edge joins two roots. Each component's label is its
smallest document number, so the result does not depend on the order of the edges.
"""

from __future__ import annotations

import numpy as np


def component_labels(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, labels) for an (E, 2) array of document-number pairs: the sorted distinct nodes and, for each, the
    smallest node of its component.

    Example: component_labels(np.array([[5, 9], [9, 2], [7, 8]])) -> ([2, 5, 7, 8, 9], [2, 2, 7, 7, 2])
    """
    nodes, index = np.unique(edges, return_inverse=True)
    if len(nodes) == 0:
        return nodes, nodes.copy()
    index = index.reshape(-1, 2)
    left, right = index[:, 0], index[:, 1]
    parent = np.arange(len(nodes))
    while True:
        root_left, root_right = parent[left], parent[right]
        joining = root_left != root_right
        if not joining.any():
            break
        low = np.minimum(root_left[joining], root_right[joining])
        high = np.maximum(root_left[joining], root_right[joining])
        np.minimum.at(parent, high, low)  # nodes sort like document numbers, so the smaller index is the smaller doc
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
    return nodes, nodes[parent]
