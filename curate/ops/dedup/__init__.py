"""Deduplication: the shape both dedup nodes share (operation.py: map -> reduce -> resolve -> write), and its
building blocks: MinHash signatures, LSH banding, connected components, the shuffle files that carry keys between the
map and reduce tasks, and the writer of the deduplicated partitions. The nodes themselves are ops/exact_dedup.py and
ops/minhash_dedup.py; repeated_lines reuses the shuffle. Living under ops/, all of it is in those nodes' code digest
(dag.node_code): a change to the LSH or the shuffle recomputes what they decided."""
