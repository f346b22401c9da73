"""Deduplication: the shape both dedup nodes share (operation.py: map -> reduce -> resolve -> write, on the shuffle
skeleton of ops/shuffle/), and its building blocks: MinHash signatures, LSH banding, connected components, and the
writer of the deduplicated partitions. The nodes themselves are ops/exact_dedup.py and ops/minhash_dedup.py. Living
under ops/, all of it is in those nodes' code digest (dag.node_code): a change to the LSH recomputes what they
decided."""
