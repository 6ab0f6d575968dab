"""Fixtures of the k3d offline checks: one validator per session, copies of k3d/ to break."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.settings import REPO_ROOT
from k3d.validate.validator import Validator


@pytest.fixture(scope="session")
def validator() -> Validator:
    """Loads the Dapr CRDs and k3d's schema (Go module cache) once for all tests."""
    return Validator(REPO_ROOT)


@pytest.fixture
def k3d_copy(tmp_path: Path, validator: Validator) -> Validator:
    """A validator of a fresh copy of k3d/ in tmp_path, for tests that break a file."""
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO_ROOT / "k3d", tmp_path / "k3d", ignore=ignore)
    resources = "system_under_test/resources"  # what the manifests must mirror
    shutil.copytree(REPO_ROOT / resources, tmp_path / resources, ignore=ignore)
    return validator.for_root(tmp_path)
