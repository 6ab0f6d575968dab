"""The walk over k3d/: which files are checked, by which module, with schemas loaded once."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from harness.settings import DEFAULT_DAPR_VERSION, REPO_ROOT
from k3d.dashboard import check_dashboard
from k3d.validate import (
    cluster_config,
    consistency,
    dapr_resources,
    go_modules,
    helm_values,
    manifests,
    shell_scripts,
    workflow,
)
from k3d.validate.report import FileReport, SetupError
from k3d.validate.yaml_files import load_yaml


class Validator:
    """Checks the files of a k3d/ folder; schemas and modules are loaded once, when needed."""

    def __init__(self, root: Path = REPO_ROOT, env: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.k3d_dir = root / "k3d"
        self.env: Mapping[str, str] = os.environ if env is None else env
        version = self.env.get("DAPR_VERSION", "").strip().lstrip("v")
        self.dapr_version = version or DEFAULT_DAPR_VERSION

    def for_root(self, root: Path) -> Validator:
        """A validator of another tree (a test's broken copy) reusing this one's schemas."""
        other = Validator(root, self.env)
        other.__dict__["dapr_crds"] = self.dapr_crds
        other.__dict__["k3d_schema"] = self.k3d_schema
        return other

    # Loaded on first use, so a run that checks only shell scripts needs no Go.

    @cached_property
    def dapr_module_dir(self) -> Path:
        """The unpacked github.com/dapr/dapr module of the pinned release."""
        return go_modules.module_dir(
            self.env, "DAPR_MODULE_DIR", go_modules.DAPR_MODULE, f"v{self.dapr_version}"
        )

    @cached_property
    def dapr_crds(self) -> dict[tuple[str, str], dict[str, Any]]:
        return dapr_resources.load_dapr_crds(self.dapr_module_dir / dapr_resources.DAPR_CRD_DIR)

    @cached_property
    def k3d_schema_path(self) -> Path:
        """k3d's JSON schema of cluster configs, in the k3d Go module of K3D_VERSION."""
        module = go_modules.module_dir(
            self.env, "K3D_MODULE_DIR", go_modules.K3D_MODULE, go_modules.K3D_VERSION
        )
        return module / cluster_config.K3D_SCHEMA_PATH

    @cached_property
    def k3d_schema(self) -> dict[str, Any]:
        with open(self.k3d_schema_path, encoding="utf-8") as handle:
            schema: dict[str, Any] = json.load(handle)
        return schema

    @cached_property
    def kubernetes_version(self) -> str:
        """major.minor of the k3s image pinned in cluster.yaml."""
        config = load_yaml(self.k3d_dir / "cluster.yaml")
        image = config.get("image", "") if isinstance(config, dict) else ""
        match = re.search(r":v(\d+\.\d+)\.\d+", image)
        if not match:
            raise SetupError(f"cluster.yaml pins no k3s image version (image: {image!r})")
        return match.group(1)

    # --- what to check ---

    def files(self) -> list[Path]:
        found = [self.k3d_dir / "cluster.yaml", self.k3d_dir / "github-workflow.yaml"]
        found += sorted(self.k3d_dir.glob("*.sh"))
        found += sorted((self.k3d_dir / "manifests").glob("*.yaml"))
        found += sorted((self.k3d_dir / "load").glob("*.yaml"))  # applied by loadtests.in_cluster
        found += sorted((self.k3d_dir / "values").glob("*.yaml"))
        found += sorted((self.k3d_dir / "dashboards").glob("*.json"))
        return found

    def check_file(self, path: Path) -> FileReport:
        report = FileReport(path)
        try:
            report.problems = self._dispatch(path)
        except SetupError as err:
            report.problems = [f"cannot check: {err}"]
        return report

    def _dispatch(self, path: Path) -> list[str]:
        if not path.is_file():
            return ["file is missing"]
        if path.suffix == ".sh":
            return shell_scripts.check_shell_script(path)
        if path.suffix == ".json":
            return check_dashboard(path)
        if path.name == "cluster.yaml":
            return cluster_config.check_k3d_config(path, self.k3d_schema)
        if path.name == "github-workflow.yaml":
            return workflow.check_workflow(path)
        if path.parent.name == "values":
            return helm_values.check_helm_values(path)
        return manifests.check_manifest(path, self.dapr_resource_problems, self.kubernetes_problems)

    def run(self) -> list[FileReport]:
        reports = [self.check_file(path) for path in self.files()]
        cross_file = FileReport(self.k3d_dir / "(cross-file)")
        try:
            cross_file.problems = self.check_consistency()
        except SetupError as err:
            cross_file.problems = [f"cannot check: {err}"]
        except (OSError, yaml.YAMLError) as err:
            cross_file.problems = [f"cannot read the files: {err}"]
        return [*reports, cross_file]

    # --- the checks that need this validator's schemas or versions ---

    def kubernetes_problems(self, doc: dict[str, Any]) -> list[str]:
        return manifests.kubernetes_problems(doc, self.kubernetes_version)

    def dapr_resource_problems(self, doc: dict[str, Any]) -> list[str]:
        return dapr_resources.dapr_resource_problems(doc, self.dapr_crds, self.dapr_version)

    def check_consistency(self) -> list[str]:
        return consistency.check_consistency(self.k3d_dir, self.dapr_version)


def validate(root: Path = REPO_ROOT, env: Mapping[str, str] | None = None) -> list[FileReport]:
    """Check every file of root/k3d; one report per file and one for the cross-file rules."""
    return Validator(root, env).run()
