"""`open_target()`: E2E_TARGET picks the target, which is not started yet."""

from __future__ import annotations

import pytest

from harness.errors import HarnessError, SettingsError
from harness.targets import open_target
from harness.targets.k8s import K3dTarget
from harness.targets.local import LocalTarget


def test_unknown_target_is_refused():
    with pytest.raises(HarnessError, match="E2E_TARGET='minikube' is not a target"):
        open_target({"E2E_TARGET": "minikube"})


@pytest.mark.parametrize(
    ("given", "kind"),
    [("", LocalTarget), (" Local ", LocalTarget), ("k3d", K3dTarget), ("k8s", K3dTarget)],
)
def test_the_target_is_chosen_by_e2e_target(given, kind, tmp_path):
    target = open_target({"E2E_TARGET": given, "HARNESS_RUN_DIR": str(tmp_path)})
    assert isinstance(target, kind)
    assert target.name == ("local" if kind is LocalTarget else "k3d")


def test_a_bad_setting_of_the_chosen_target_is_one_line():
    with pytest.raises(SettingsError, match=r"^HARNESS_PORT_OFFSET='x' is not a whole number$"):
        open_target({"HARNESS_PORT_OFFSET": "x"})
    with pytest.raises(SettingsError, match=r"^K3D_READY_TIMEOUT='-1' must be a number"):
        open_target({"E2E_TARGET": "k3d", "K3D_READY_TIMEOUT": "-1"})
