"""Kubernetes manifests as the suite reads them: the objects of a multi-document YAML file.

No kubernetes import here: the load runner renders its pods' manifest before it needs a cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def objects_in(text: str) -> list[dict[str, Any]]:
    """The documents of a YAML stream, the empty ones (a trailing `---`) left out."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def documents(path: Path) -> list[dict[str, Any]]:
    return objects_in(path.read_text(encoding="utf-8"))
