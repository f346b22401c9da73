"""A pipeline file (YAML) turned into a typed, validated spec: nodes, their inputs and their fused steps.

Every error names the file, the node and the field, and suggests the nearest known name for a typo:

    pipelines/x.yaml: node 'text', step 1 'normalise': unknown step (did you mean 'normalize'?)

Relative input paths are resolved against the pipeline file's folder, so a pipeline runs from any working
directory; the workdir is resolved against the current directory (or given with --workdir).
"""

from __future__ import annotations

import dataclasses
import glob
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from curate import storage
from curate.errors import ConfigError
from curate.executors.base import RayOptions
from curate.ops import OPERATIONS
from curate.ops.base import Operation
from curate.path_list import PathList
from curate.stages import READERS, STEPS, step_class
from curate.stages.base import Reader, Stage
from curate.stages.plugins import load_stage_class
from curate.validation import build_dataclass, check_keys, suggestion

PIPELINE_KEYS = ("name", "description", "workdir", "nodes")
MAP_NODE_KEYS = ("input", "steps", "batch_docs", "ray")
# Where `ray job submit --working-dir` unpacks the job's files on each node (Ray's runtime_env working_dir).
RAY_JOB_PACKAGE = os.sep + os.path.join("runtime_resources", "working_dir_files") + os.sep
# Documents per Arrow batch: large enough to amortise per-batch overhead, small enough that a batch of 5 MB pages
# stays well inside a worker's memory.
DEFAULT_BATCH_DOCS = 1000


@dataclass(frozen=True)
class InputSpec:
    """Where a node's partitions come from: files read by a reader, or the partitions of another node."""

    reader: str | None = None  # "warc", "jsonl"; None for a node input
    options: Mapping[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    node: str | None = None

    def build_reader(self) -> Reader:
        assert self.reader is not None
        return READERS[self.reader](**self.options)


@dataclass(frozen=True)
class StepSpec:
    """One step of a node: the registered stage name and its validated options."""

    name: str
    options: Mapping[str, Any]

    def build(self) -> Stage:
        return step_class(self.name)(**self.options)


@dataclass(frozen=True)
class NodeSpec:
    """A map node (`input` and fused `steps`, one output partition per input partition) or an operation node
    (`operation` with its `options`: a global step such as training a tokenizer)."""

    name: str
    input: InputSpec | None = None
    steps: tuple[StepSpec, ...] = ()
    batch_docs: int = DEFAULT_BATCH_DOCS
    operation: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    model_nodes: tuple[str, ...] = ()  # model nodes its steps use (resolved to their model files)
    # (step index, option, model node) for each step option that names a model node: its logical hash holds the
    # node's name, not the file's path, so that moving the workdir changes nothing.
    model_options: tuple[tuple[int, str, str], ...] = ()
    ray: RayOptions = RayOptions()

    @property
    def upstream(self) -> tuple[str, ...]:
        """The nodes this node reads, in a fixed order."""
        if self.operation is not None:
            # an optional node input left out (None) is not read
            return tuple(self.options[name] for name in OPERATIONS[self.operation].node_inputs
                         if self.options.get(name) is not None)
        return ((self.input.node,) if self.input is not None and self.input.node else ()) + self.model_nodes

    @property
    def needed_at_start(self) -> tuple[str, ...]:
        """The nodes that must be done before this node starts: those it reads but an operation's `late_inputs`,
        which it waits for itself when it gets to them (on a parallel executor, curate/dag.py's ConcurrentRun)."""
        if self.operation is None:
            return self.upstream
        operation = OPERATIONS[self.operation]
        return tuple(self.options[name] for name in operation.node_inputs
                     if name not in operation.late_inputs and self.options.get(name) is not None)

    def build_operation(self) -> Operation:
        assert self.operation is not None
        return OPERATIONS[self.operation](**self.options)


@dataclass(frozen=True)
class PipelineSpec:
    path: str
    name: str
    workdir: str
    nodes: tuple[NodeSpec, ...]  # in dependency order
    base_dir: str = "."  # the pipeline file's folder: input files are named relative to it
    shard: str | None = None  # "i/n" in a shard job (curate/shard_jobs.py): its share of the inputs, no merge

    def input_label(self, path: str) -> str:
        """How an input file is named in messages and commit records: a local file relative to the pipeline file, a
        URI as it is (relative to a local folder it read `../../s3:/bucket/in/...`, changing with the folder).

        Example: with base_dir "/p": "/p/in/a.warc.gz" -> "in/a.warc.gz"; "s3://b/in/a.warc.gz" -> the same URI."""
        return path if storage.is_uri(path) else os.path.relpath(path, self.base_dir)

    def node(self, name: str) -> NodeSpec:
        return next(n for n in self.nodes if n.name == name)


def _resolve_path(item: str, base_dir: str) -> str:
    """A URI as it is (refused if it carries credentials); a local path made absolute against the pipeline file's
    folder."""
    if storage.is_uri(item):
        try:
            storage.check_no_secret(item)
        except storage.StorageError as error:
            raise ConfigError(str(error)) from None
        return item
    return os.path.normpath(os.path.join(base_dir, os.path.expanduser(storage.local_path(item))))


def resolve_files(pattern: Any, base_dir: str, where: str) -> tuple[str, ...]:
    """Expand a glob or a list of globs/paths/URIs, relative to `base_dir`, into a sorted, de-duplicated file list;
    or read a Common Crawl path list (`{paths: ..., prefix: ..., sample: N}`, see path_list.py).

    A glob matching nothing is an error; a plain path that does not exist is kept, so that the run reports it as a
    failed partition (`missing_file`) and finishes the others.
    """
    if isinstance(pattern, Mapping):
        selection = build_dataclass(PathList, pattern, where)
        try:
            return tuple(selection.files(_resolve_path(selection.paths, base_dir)))
        except (OSError, ValueError) as error:
            raise ConfigError(f"{where}: paths {selection.paths!r}: {' '.join(str(error).split())}") from None
    patterns = [pattern] if isinstance(pattern, str) else pattern
    if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) for p in patterns):
        raise ConfigError(f"{where}: expected a path, a glob or a list of them, got {pattern!r}")
    files: set[str] = set()
    for item in patterns:
        full = _resolve_path(item, base_dir)
        if glob.has_magic(full):
            matches = storage.glob(full)
            if not matches:
                raise ConfigError(f"{where}: {item!r} matches no files (looked in {storage.dirname(full)})")
            files.update(matches)
        else:
            files.add(full)
    return tuple(sorted(files))


def _parse_input(raw: Any, node_names: list[str], base_dir: str, where: str) -> InputSpec:
    if isinstance(raw, str):
        if raw not in node_names:
            raise ConfigError(f"{where}: 'input' names no node {raw!r}{suggestion(raw, node_names)}; to read files "
                              "write {warc: GLOB} or {jsonl: GLOB}")
        return InputSpec(node=raw)
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: 'input' must be a node name or a mapping like {{warc: GLOB}}, got {raw!r}")
    kinds = [k for k in raw if k in READERS]
    if len(kinds) != 1:
        unknown = next((str(k) for k in raw), "")
        raise ConfigError(f"{where}: 'input' needs exactly one of {', '.join(READERS)}"
                          f"{suggestion(unknown, READERS) if not kinds else ''}, got {dict(raw)!r}")
    kind = kinds[0]
    options = {k: v for k, v in raw.items() if k != kind}
    build_dataclass(READERS[kind], options, f"{where}, input {kind!r}")  # validates; workers build their own
    return InputSpec(reader=kind, options=options, files=resolve_files(raw[kind], base_dir, f"{where}, input"))


def _parse_steps(raw: Any, base_dir: str, where: str) -> tuple[StepSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: 'steps' must be a list, got {type(raw).__name__}")
    steps = []
    for number, item in enumerate(raw, start=1):
        if isinstance(item, str):
            item = {item: {}}
        if isinstance(item, Mapping) and "class" in item:  # a user's stage: {class: "mypkg.filters:MyFilter", ...}
            name, options = item["class"], {k: v for k, v in item.items() if k != "class"}
            step_where = f"{where}, step {number} {name!r}"
            if not isinstance(name, str):
                raise ConfigError(f"{step_where}: 'class' must be an import path like 'mypkg.filters:MyFilter'")
            try:
                cls = load_stage_class(name)
            except ValueError as error:
                raise ConfigError(f"{step_where}: {error}") from None
        elif not isinstance(item, Mapping) or len(item) != 1:
            raise ConfigError(f"{where}, step {number}: write a step as `- name: {{options}}`, got {item!r}")
        else:
            (name, options), = item.items()
            step_where = f"{where}, step {number} {name!r}"
            if name not in STEPS:
                raise ConfigError(f"{step_where}: unknown step{suggestion(str(name), STEPS)}; known steps: "
                                  f"{', '.join(sorted(STEPS))}, or {{class: \"module:Class\"}} for your own")
            cls = STEPS[name]
        options = dict(options or {})
        for option in cls.file_options:  # files a step loads (a model, word lists): relative to the pipeline file
            value = options.get(option)
            if isinstance(value, str):
                options[option] = _resolve_path(value, base_dir)
            elif isinstance(value, list):
                options[option] = [_resolve_path(v, base_dir) if isinstance(v, str) else v for v in value]
        stage = build_dataclass(cls, options, step_where)
        for option in cls.file_options:
            value = getattr(stage, option)
            for path in [value] if isinstance(value, str) else value or ():  # (None: an option the step left unset)
                if option not in cls.model_inputs and not storage.is_file(path):
                    raise ConfigError(f"{step_where}: field {option!r}: no such file {path!r}")
        steps.append(StepSpec(name=name, options=options))
    return tuple(steps)


def _dependency_order(upstream: dict[str, tuple[str, ...]], where: str) -> list[str]:
    """Node names ordered so that each comes after the nodes it reads; a cycle is a ConfigError naming it."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = path[path.index(name):] + [name]
            raise ConfigError(f"{where}: nodes form a cycle: {' -> '.join(cycle)}")
        state[name] = "visiting"
        for before in upstream[name]:
            visit(before, path + [name])
        state[name] = "done"
        order.append(name)

    for name in upstream:
        visit(name, [])
    return order


def _parse_operation(name: str, raw: Mapping[str, Any], names: list[str], base_dir: str, where: str) -> NodeSpec:
    """An operation node: `{train_bpe: {input: text, vocab_size: 8192}}`."""
    (operation, options), = raw.items()
    cls = OPERATIONS[operation]
    where = f"{where}, {operation}"
    build_dataclass(cls, options, where)
    options = dict(options or {})
    for field_name in cls.path_inputs:
        options[field_name] = list(resolve_files(options[field_name], base_dir, f"{where}, {field_name}"))
    for field_name in cls.node_inputs:
        target = options.get(field_name)
        if target is None:  # an optional node input (the dataclass field's default is None)
            continue
        if target not in names or target == name:
            raise ConfigError(f"{where}: field {field_name!r} names no other node {target!r}"
                              f"{suggestion(str(target), [n for n in names if n != name])}")
    return NodeSpec(name=name, operation=operation, options=options)


def _check_node_kinds(nodes: dict[str, NodeSpec], path: str) -> None:
    """Each node input must be of the kind its reader expects (documents, or a trained artefact)."""
    for node in nodes.values():
        wanted = OPERATIONS[node.operation].node_inputs if node.operation else {"input": "documents"}
        for field_name, kind in wanted.items():
            target = node.options.get(field_name) if node.operation else (node.input.node if node.input else None)
            if target is None:
                continue
            operation = nodes[target].operation
            actual = "documents" if operation is None or OPERATIONS[operation].produces_documents else operation
            if actual != kind:
                what = "a node of documents (input and steps)" if kind == "documents" else f"a {kind} node"
                raise ConfigError(f"{path}: node {node.name!r}: field {field_name!r} must name {what}; "
                                  f"{target!r} is {'a ' + actual if actual != 'documents' else 'a node of documents'}")


def parse_pipeline(data: Any, path: str, workdir: str | None = None) -> PipelineSpec:
    """Validate the parsed YAML `data` of the file at `path` and build its spec."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping with 'nodes', got {type(data).__name__}")
    check_keys(data, PIPELINE_KEYS, path)
    nodes_raw = data.get("nodes")
    if not isinstance(nodes_raw, Mapping) or not nodes_raw:
        raise ConfigError(f"{path}: 'nodes' must be a non-empty mapping of node name to node")
    base_dir = os.path.dirname(os.path.abspath(path))
    names = [str(n) for n in nodes_raw]
    nodes: dict[str, NodeSpec] = {}
    for name, raw in nodes_raw.items():
        where = f"{path}: node {name!r}"
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: expected a mapping with 'input' and 'steps', got {raw!r}")
        ray_options = build_dataclass(RayOptions, raw.get("ray"), f"{where}, ray")
        operations = [key for key in raw if key in OPERATIONS]
        if operations and set(raw) - {"ray"} == set(operations[:1]):
            nodes[name] = dataclasses.replace(
                _parse_operation(name, {operations[0]: raw[operations[0]]}, names, base_dir, where), ray=ray_options)
            continue
        check_keys(raw, (*MAP_NODE_KEYS, *OPERATIONS), where)
        if any(key in OPERATIONS for key in raw):
            raise ConfigError(f"{where}: an operation node has its operation as its only key (besides 'ray'), "
                              "e.g. {train_bpe: {input: text, vocab_size: 8192}}")
        if "input" not in raw:
            raise ConfigError(f"{where}: missing field 'input'")
        batch_docs = raw.get("batch_docs", DEFAULT_BATCH_DOCS)
        if not isinstance(batch_docs, int) or isinstance(batch_docs, bool) or batch_docs < 1:
            raise ConfigError(f"{where}: field 'batch_docs' must be a positive integer, got {batch_docs!r}")
        nodes[name] = NodeSpec(
            name=name,
            input=_parse_input(raw["input"], [n for n in names if n != name], base_dir, where),
            steps=_parse_steps(raw.get("steps"), base_dir, where),
            batch_docs=batch_docs,
            ray=ray_options,
        )
    name = data.get("name", os.path.splitext(os.path.basename(path))[0])
    chosen_workdir = workdir or data.get("workdir") or os.path.join("out", str(name))
    if not isinstance(chosen_workdir, str):
        raise ConfigError(f"{path}: field 'workdir' must be a path, got {chosen_workdir!r}")
    chosen_workdir = storage.absolute(chosen_workdir)
    try:
        storage.check_no_secret(chosen_workdir)
    except storage.StorageError as error:
        raise ConfigError(f"{path}: workdir: {error}") from None
    if RAY_JOB_PACKAGE in chosen_workdir:
        raise ConfigError(f"{path}: the workdir {chosen_workdir} is inside the package Ray unpacked for this job, "
                          "which Ray deletes and every node has its own copy of; give an absolute path on shared "
                          "storage or a URI (s3://bucket/prefix) with --workdir")
    for node_name, node in nodes.items():
        nodes[node_name] = _resolve_model_steps(node, nodes, chosen_workdir, f"{path}: node {node_name!r}")
    order = _dependency_order({n: spec.upstream for n, spec in nodes.items()}, path)
    _check_node_kinds(nodes, path)
    return PipelineSpec(path=path, name=str(name), workdir=chosen_workdir, nodes=tuple(nodes[n] for n in order),
                        base_dir=base_dir)


def _resolve_model_steps(node: NodeSpec, nodes: Mapping[str, NodeSpec], workdir: str, where: str) -> NodeSpec:
    """Steps whose option names a model node get that node's model file instead, and the node runs first."""
    steps, used, named = [], [], []
    for number, step in enumerate(node.steps, start=1):
        options = dict(step.options)
        for option, kind in step_class(step.name).model_inputs.items():
            target = options.get(option)
            if isinstance(target, str) and target in nodes:
                if nodes[target].operation != kind:
                    raise ConfigError(f"{where}, step {number} {step.name!r}: field {option!r} names node "
                                      f"{target!r}, which is not a {kind} node")
                options[option] = storage.join(workdir, target, OPERATIONS[kind].artefact)
                used.append(target)
                named.append((number - 1, option, target))
            elif option in options and not storage.is_file(str(options[option])):
                raise ConfigError(f"{where}, step {number} {step.name!r}: field {option!r} names no {kind} node "
                                  f"and no model file {target!r}{suggestion(str(target), list(nodes))}")
        steps.append(StepSpec(step.name, options))
    if not used:
        return node
    return dataclasses.replace(node, steps=tuple(steps), model_nodes=tuple(used), model_options=tuple(named))


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping: PyYAML keeps the last silently, so a second
    `text:` under `nodes:` would replace the first node without a word."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice in one mapping", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_pipeline(path: str, workdir: str | None = None) -> PipelineSpec:
    """Read and validate the pipeline file at `path`; `workdir` overrides the file's own."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such pipeline file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a pipeline file") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start}: {error.object[error.start:error.start + 1]!r}); "
                          "save the pipeline file as UTF-8") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(error).split())}") from None
    return parse_pipeline(data, path, workdir)
