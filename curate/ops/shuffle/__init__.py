"""Grouping documents by key across the whole corpus: the shuffle files that carry key records from the map tasks
to the reduce tasks (files.py), and the map -> reduce -> write skeleton of the operations that use them
(operation.py: exact_dedup, minhash_dedup, repeated_lines). Living under ops/, both are in those nodes' code digest
(dag.node_code): a change to the shuffle recomputes what they decided."""
