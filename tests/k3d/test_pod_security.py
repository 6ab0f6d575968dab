"""The offline checks fail on a workload that is not locked down or runs without Dapr's tokens."""

from __future__ import annotations

import pytest

from k3d.validate.pod_security import pod_security_problems
from k3d.validate.validator import Validator
from tests.k3d.test_validate import edit, joined, problems_of

pytestmark = pytest.mark.k3d

SERVICE1 = "k3d/manifests/30-service-1.yaml"


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("runAsNonRoot: true", "runAsNonRoot: false", "runAsNonRoot must be true"),
        ("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true",
         "allowPrivilegeEscalation must be false"),
        ('drop: ["ALL"]', 'drop: ["NET_RAW"]', "capabilities.drop must contain ALL"),
        ("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false",
         "readOnlyRootFilesystem must be true"),
        ("        dapr.io/app-token-secret: app-api-token\n", "",
         "annotation dapr.io/app-token-secret must name the Secret"),
        ("        dapr.io/api-token-secret: dapr-api-token\n", "",
         "annotation dapr.io/api-token-secret must name the Secret"),
    ],
)  # fmt: skip
def test_a_weakened_service_manifest_fails(
    k3d_copy: Validator, old: str, new: str, problem: str
) -> None:
    edit(k3d_copy.root / SERVICE1, old, new)
    assert problem in joined(problems_of(k3d_copy, SERVICE1))


@pytest.mark.parametrize("manifest", ["10-redis.yaml", "11-jaeger.yaml", "31-service-2.yaml"])
def test_every_workload_is_checked(k3d_copy: Validator, manifest: str) -> None:
    edit(k3d_copy.root / "k3d/manifests" / manifest, "runAsNonRoot: true", "runAsNonRoot: false")
    assert "runAsNonRoot must be true" in joined(problems_of(k3d_copy, f"k3d/manifests/{manifest}"))


def test_a_pod_without_security_context_names_every_missing_setting() -> None:
    pod = {"kind": "Pod", "spec": {"containers": [{"name": "app"}]}}
    assert pod_security_problems(pod) == [
        "container app: runAsNonRoot must be true (pod or container securityContext)",
        "container app: allowPrivilegeEscalation must be false",
        "container app: capabilities.drop must contain ALL",
        "container app: readOnlyRootFilesystem must be true (put writable paths on volumes)",
    ]


def test_root_user_fails() -> None:
    pod = {"kind": "Pod", "spec": {"securityContext": {"runAsUser": 0}, "containers": [{}]}}
    assert "container ?: runAsUser must not be 0" in pod_security_problems(pod)


def test_other_kinds_are_not_workloads() -> None:
    assert pod_security_problems({"kind": "Service", "spec": {}}) == []
