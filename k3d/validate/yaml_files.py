"""Reading the YAML files under k3d/, and naming where a schema error is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def load_yaml(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_yaml_docs(path: Path) -> list[Any]:
    with open(path, encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def where(error: Any) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "(top)"
