"""Deduplication building blocks: MinHash signatures, LSH banding, connected components, and the shuffle files that
carry keys between the map and reduce tasks of the `exact_dedup` and `minhash_dedup` nodes."""
