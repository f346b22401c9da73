"""Which options differ between two node configs (the `config` of a node's commit record, dag.node_config): what
`curate run --dry-run` says when a node must be recomputed, and what `curate inspect --compare` shows first."""

from __future__ import annotations

import json
from typing import Any


def _flat_options(config: dict[str, Any]) -> dict[str, Any]:
    """A node config's options by name. Example: {"steps": [["normalize", {"form": "NFD"}]]} -> {"step 1
    normalize: form": "NFD"}"""
    if "steps" in config:
        return {f"step {number} {name}: {option}": value
                for number, (name, options) in enumerate(config["steps"], 1) for option, value in options.items()}
    return {f"{config.get('operation')}: {option}": value for option, value in (config.get("options") or {}).items()}


def config_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The options that differ between two node configs as committed (JSON), as `option: old -> new`.

    Example: config_changes({"steps": [["normalize", {"form": "NFD"}]]}, {"steps": [["normalize", {"form": "NFC"}]]})
    -> ["step 1 normalize: form: 'NFD' -> 'NFC'"]"""
    old, new = _flat_options(before), _flat_options(json.loads(json.dumps(after, sort_keys=True)))
    absent = "(none)"
    return [f"{key}: {old.get(key, absent)!r} -> {new.get(key, absent)!r}" for key in dict.fromkeys([*old, *new])
            if old.get(key, absent) != new.get(key, absent)]
