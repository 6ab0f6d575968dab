"""What the e2e and load tests talk to, whichever target it is.

`open_target()` picks the target from `E2E_TARGET` (`local`, the default, or `k3d`).
Tests use only the attributes of `Target`; they never ask which one they got.
"""

from __future__ import annotations

import os
from typing import Protocol

from harness.errors import HarnessError
from harness.local_stack import LocalStack
from harness.processes import group_alive, tail
from harness.settings import StackSettings
from harness.supervisor import running_state


class Target(Protocol):
    name: str
    service1_url: str
    service2_url: str
    prometheus_url: str
    daprd_metrics_urls: dict[str, str]
    t2_delay_seconds: float

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def logs_tail(self, lines: int = 50) -> dict[str, str]: ...

    def problems(self) -> list[str]:
        """What is broken right now (a dead component, say); empty when all is well."""
        ...


class LocalTarget:
    """The local stack: attaches to one started by `up`, or starts (and later stops) one."""

    name = "local"

    def __init__(self, settings: StackSettings | None = None) -> None:
        self.settings = settings or StackSettings.from_env()
        s = self.settings
        self.service1_url = s.url(s.service1_port)
        self.service2_url = s.url(s.service2_port)
        self.prometheus_url = s.url(s.prometheus_port)
        self.daprd_metrics_urls = {
            "service-1": f"{s.url(s.sidecar1.metrics)}/metrics",
            "service-2": f"{s.url(s.sidecar2.metrics)}/metrics",
        }
        self.t2_delay_seconds = s.t2_delay_seconds
        # Jaeger's query API when the stack runs one (HARNESS_JAEGER=1), else None
        self.jaeger_url: str | None = s.url(s.jaeger_query_port) if s.jaeger else None
        self.owned: LocalStack | None = None

    def start(self) -> None:
        state = running_state(self.settings)
        if state is not None:
            if state.status != "ready":
                raise HarnessError("a local stack is starting; wait for `up` to finish")
            self.t2_delay_seconds = state.t2_delay_seconds
            s = self.settings
            has_jaeger = "jaeger" in (state.components or {})  # what `up` started decides
            self.jaeger_url = s.url(s.jaeger_query_port) if has_jaeger else None
            return
        stack = LocalStack(self.settings)
        stack.start()
        self.owned = stack

    def stop(self) -> None:
        if self.owned is not None:
            self.owned.stop()
            self.owned = None

    def problems(self) -> list[str]:
        if self.owned is not None:
            return [
                f"{name} exited with code {c.process.exit_code()}: {c.process.log_tail(5)}"
                for name, c in self.owned.components.items()
                if c.process.exit_code() is not None
            ]
        state = running_state(self.settings)
        if state is None:
            return ["the local stack started by `up` is no longer running"]
        return [
            f"{name} (pid {pid}) is gone"
            for name, pid in (state.components or {}).items()
            if not group_alive(pid)
        ]

    def logs_tail(self, lines: int = 50) -> dict[str, str]:
        logs = self.settings.run_dir / "logs"
        return {path.stem: tail(path, lines) for path in sorted(logs.glob("*.log"))}

    def __enter__(self) -> LocalTarget:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def open_target(env: dict[str, str] | None = None) -> Target:
    env = dict(os.environ if env is None else env)
    kind = env.get("E2E_TARGET", "local").strip().lower() or "local"
    if kind == "local":
        return LocalTarget(StackSettings.from_env(env))
    if kind == "k3d":
        from harness.k3d_target import K3dSettings, K3dTarget

        return K3dTarget(K3dSettings.from_env(env))
    raise HarnessError(f"E2E_TARGET={kind!r} is not a target: use 'local' or 'k3d'")
