"""Dapr resources against the CRDs of the pinned Dapr release, as JSON schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from k3d.validate.report import SetupError
from k3d.validate.yaml_files import where

DAPR_CRD_DIR = "charts/dapr/crds"


def crd_schema_to_jsonschema(node: Any, strict: bool = True) -> Any:
    """An openAPIV3Schema as a JSON schema that rejects what the API server would.

    Kubernetes prunes unknown fields of structural schemas and `kubectl apply` (strict
    field validation) refuses them, so an object schema with `properties` and neither
    `additionalProperties` nor x-kubernetes-preserve-unknown-fields gets
    additionalProperties: false. x-kubernetes-int-or-string and nullable become types;
    x-kubernetes-validations (CEL) cannot be evaluated here and are dropped.
    """
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties"):
            out[key] = {name: crd_schema_to_jsonschema(sub, strict) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = crd_schema_to_jsonschema(value, strict)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [crd_schema_to_jsonschema(sub, strict) for sub in value]
        elif key.startswith("x-kubernetes-") or key in ("description", "nullable", "format"):
            continue
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if strict and "properties" in node and "additionalProperties" not in node and not preserve:
        out["additionalProperties"] = False
    return out


def load_dapr_crds(crd_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> JSON schema, for every served version of every Dapr CRD."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(crd_dir.glob("*.yaml")):
        with open(path, encoding="utf-8") as handle:
            for crd in yaml.safe_load_all(handle):
                if not crd or crd.get("kind") != "CustomResourceDefinition":
                    continue
                spec = crd["spec"]
                for version in spec["versions"]:
                    if not version.get("served", False):
                        continue
                    schema = crd_schema_to_jsonschema(version["schema"]["openAPIV3Schema"])
                    api_version = f"{spec['group']}/{version['name']}"
                    schemas[(api_version, spec["names"]["kind"])] = schema
    if not schemas:
        raise SetupError(f"no CRDs in {crd_dir}")
    return schemas


def dapr_resource_problems(
    doc: dict[str, Any], crds: dict[tuple[str, str], dict[str, Any]], dapr_version: str
) -> list[str]:
    from jsonschema import Draft7Validator

    schema = crds.get((doc["apiVersion"], doc["kind"]))
    if schema is None:
        served = sorted(f"{api} {kind}" for api, kind in crds)
        return [
            f"Dapr {dapr_version} serves no {doc['apiVersion']} {doc['kind']} "
            f"(it serves: {', '.join(served)})"
        ]
    errors = sorted(Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    return [f"{where(error)}: {error.message}" for error in errors]
