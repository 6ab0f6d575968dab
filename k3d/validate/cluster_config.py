"""cluster.yaml: k3d's JSON schema from the k3d Go module, and our rules beyond it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from k3d.validate.report import one_line
from k3d.validate.yaml_files import load_yaml, where

K3D_SCHEMA_PATH = "pkg/config/v1alpha5/schema.json"
# k3d's node filter syntax (pkg/util/filter.go): group, optional subset, optional suffix.
_NODE_FILTER = re.compile(
    r"^(server|servers|agent|agents|loadbalancer|all)"
    r"(:(\d+(,\d+)*|\d*-\d*|\*))?(:(proxy|direct))?$"
)


def check_k3d_config(path: Path, schema: dict[str, Any]) -> list[str]:
    """cluster.yaml against k3d's schema, then what the schema leaves open."""
    from jsonschema import Draft7Validator

    try:
        config = load_yaml(path)
    except (OSError, yaml.YAMLError) as err:
        return [f"not YAML: {one_line(err)}"]
    problems = [
        f"{where(error)}: {error.message}" for error in Draft7Validator(schema).iter_errors(config)
    ]
    if problems or not isinstance(config, dict):
        return problems or ["not a mapping"]
    # What the schema leaves open but k3d would refuse or we rely on.
    if ":latest" in config.get("image", "") or ":" not in config.get("image", ""):
        problems.append("image: pin a k3s version (rancher/k3s:vX.Y.Z-k3sN)")
    for index, mapping in enumerate(config.get("ports", [])):
        port = mapping.get("port", "")
        if not re.match(r"^127\.0\.0\.1:\d+:\d+(/tcp)?$", port):
            problems.append(f"ports.{index}: {port!r} is not 127.0.0.1:HOST:NODEPORT")
        for node_filter in mapping.get("nodeFilters", []):
            if not _NODE_FILTER.match(node_filter):
                problems.append(f"ports.{index}: bad node filter {node_filter!r}")
    args = [
        item.get("arg", "")
        for item in config.get("options", {}).get("k3s", {}).get("extraArgs", [])
    ]
    for needed in ("--disable=traefik", "--disable=servicelb"):
        if needed not in args:
            problems.append(f"options.k3s.extraArgs lacks {needed}")
    if not config.get("registries", {}).get("create"):
        problems.append("registries.create is missing: up.sh pushes the images there")
    return problems
