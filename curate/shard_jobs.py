"""A crawl as several jobs: `curate run PIPELINE --shard i/n` on each of n machines (a Slurm or KubeRay job array),
then `curate run PIPELINE` once more, the merge. Every job names the same pipeline file and the same workdir.

A shard job runs the nodes that need no other shard's documents (`document_nodes`: the map nodes that read files, or
such nodes, and whose steps use no model a node trains: extraction, normalisation, language ID, the heuristic
rules) on its share of every file input: the files at positions i, i+n, i+2n... of the input's list (after a path
list's `sample`). Each partition is committed on its own as in any run, under a name (a hash of its input's URI) and
a fingerprint that do not depend on the shard, so the n jobs write disjoint files of one workdir. A shard job writes
no node's commit record and deletes nothing (the other shards' partitions are not stale), and it logs its failures
to `_failures.shard-i-of-n.jsonl`.

The merge is the run without `--shard`: it finds every shard's partitions committed and current, computes those no
shard committed (a shard job that failed or never ran), commits each node, then runs what needs the whole crawl
(deduplication, a model's training, tokenization). Its output is the one-job run's, byte for byte
(tests/test_cluster.py: three shard jobs at once on an S3 workdir, and the merge on a two-node Ray cluster).

Each shard job holds a lock of its own (`_LOCK.shard-i-of-n`, curate/lock.py), so the n jobs run side by side; the
merge does not start while one of them runs, nor a shard job while an unsharded run does.
"""

from __future__ import annotations

import dataclasses

from curate.config import NodeSpec, PipelineSpec
from curate.errors import ConfigError


def parse_shard(text: str) -> tuple[int, int]:
    """Example: parse_shard("3/16") -> (3, 16); ValueError unless 0 <= i < n."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"shard must look like i/n, e.g. 0/8, got {text!r}") from None
    if not 0 <= index < count:
        raise ValueError(f"shard {text!r}: i must be at least 0 and below n")
    return index, count


def shard_suffix(shard: str) -> str:
    """The shard in file names. Example: shard_suffix("0/3") -> "shard-0-of-3" """
    index, count = parse_shard(shard)
    return f"shard-{index}-of-{count}"


def document_nodes(spec: PipelineSpec) -> list[str]:
    """The nodes a shard job runs, in the pipeline's order: map nodes reading files or such nodes, with no model node.

    Example: in pipelines/cc_en.yaml, ["extracted", "english"]: `unique` deduplicates across the crawl, and `scored`
    uses the classifier that `quality` trains on all of `extracted`."""
    local: list[str] = []
    for node in spec.nodes:
        if node.operation is None and not node.model_nodes and node.input is not None and (
                node.input.node is None or node.input.node in local):
            local.append(node.name)
    return local


def _share(node: NodeSpec, index: int, count: int) -> NodeSpec:
    """The node with its share of the input files (a node that reads a node is unchanged)."""
    if node.input is None or node.input.node is not None:
        return node
    return dataclasses.replace(node, input=dataclasses.replace(node.input, files=node.input.files[index::count]))


def shard_spec(spec: PipelineSpec, shard: str) -> PipelineSpec:
    """The pipeline as shard job `shard` ("i/n") runs it: its document nodes, on its share of each file input.
    ConfigError when no node can run on a shard."""
    try:
        index, count = parse_shard(shard)
    except ValueError as error:
        raise ConfigError(f"--shard: {error}") from None
    local = set(document_nodes(spec))
    if not local:
        raise ConfigError(f"{spec.path}: no node runs on a shard (each needs the whole crawl, or a model a node "
                          "trains); run it without --shard")
    nodes = tuple(_share(node, index, count) for node in spec.nodes if node.name in local)
    return dataclasses.replace(spec, nodes=nodes, shard=shard)


def shard_plan(whole: PipelineSpec, shard: PipelineSpec) -> str:
    """What a shard job does and leaves to the merge, said before it starts. Example: "shard 0/3: 4 of the 11 input
    files of node text; this job runs text; the merge (...) runs unique, deduped, bpe, shards" """
    shares = [(node.name, len(node.input.files), len(whole_input.files)) for node in shard.nodes
              if node.input is not None and node.input.node is None and (whole_input := whole.node(node.name).input)]
    inputs = ", ".join(f"{share} of the {total} input files of node {name}" for name, share, total in shares)
    left = [node.name for node in whole.nodes if node.name not in {n.name for n in shard.nodes}]
    merge = (f"; the merge (`curate run` without --shard, once every shard job has finished) runs {', '.join(left)}"
             if left else "")
    return f"shard {shard.shard}: {inputs}; this job runs {', '.join(node.name for node in shard.nodes)}{merge}"
