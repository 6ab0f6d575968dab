"""The targets the e2e and load tests run against, behind one protocol.

`open_target()` picks one from `E2E_TARGET`: `local` (the default, `local.py`) or `k3d`
(also spelled `k8s`: the cluster that k3d/up.sh built, `k8s.py`). Enter it with
`with open_target() as target:`; see `base.py` for what a target offers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from harness.env import env_str
from harness.errors import SettingsError
from harness.settings import StackSettings
from harness.targets.base import Target, TargetStartError
from harness.targets.k8s import K3dSettings, K3dTarget
from harness.targets.local import LocalTarget

__all__ = ["Target", "TargetStartError", "open_target"]

KINDS = {"local": "local", "k3d": "k3d", "k8s": "k3d"}


def open_target(env: Mapping[str, str] | None = None) -> Target:
    """The target `E2E_TARGET` names, not started yet; a bad setting raises one line."""
    env = dict(os.environ if env is None else env)
    given = env_str(env, "E2E_TARGET", "local").lower()
    kind = KINDS.get(given)
    if kind == "local":
        return LocalTarget(StackSettings.from_env(env))
    if kind == "k3d":
        return K3dTarget(K3dSettings.from_env(env))
    raise SettingsError(f"E2E_TARGET={given!r} is not a target: use 'local' or 'k3d' (or 'k8s')")
