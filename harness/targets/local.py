"""The local stack as a target: attach to one started by `up`, or start (and later stop) one.

The stack's processes and their life cycle belong to `harness.local_stack`; this module only
decides whether to own a stack and answers what the tests ask of a target.
"""

from __future__ import annotations

from harness.errors import HarnessError
from harness.local_stack import LocalStack
from harness.processes import group_alive, tail
from harness.settings import StackSettings
from harness.supervisor import running_state
from harness.targets.base import Lifecycle
from harness.tokens import StackTokens, read_tokens


class LocalTarget(Lifecycle):
    """The local stack, reached on 127.0.0.1 at the ports of `StackSettings`."""

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
        self.daprd_http_urls = {
            "service-1": s.url(s.sidecar1.http),
            "service-2": s.url(s.sidecar2.http),
        }
        self.t2_delay_seconds = s.t2_delay_seconds
        self.pubsub_type = s.broker_server().component_type
        self.tokens = StackTokens()
        # Jaeger's query API when the stack runs one (HARNESS_JAEGER=1), else None
        self.jaeger_url: str | None = s.url(s.jaeger_query_port) if s.jaeger else None
        self.owned: LocalStack | None = None

    def start(self) -> None:
        state = running_state(self.settings)
        if state is not None:
            if state.status != "ready":
                raise HarnessError("a local stack is starting; wait for `up` to finish")
            self.t2_delay_seconds = state.t2_delay_seconds
            self.tokens = read_tokens(self.settings.run_dir)
            s = self.settings
            has_jaeger = "jaeger" in (state.components or {})  # what `up` started decides
            self.jaeger_url = s.url(s.jaeger_query_port) if has_jaeger else None
            return
        stack = LocalStack(self.settings)
        stack.start()
        self.owned = stack
        self.tokens = stack.tokens

    def stop(self) -> None:
        if self.owned is not None:
            self.owned.stop()
            self.owned = None

    def broker_messages(self, topic: str) -> int:
        return self.settings.broker_server().messages(self.settings.broker_place(), topic)

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

    def process_ids(self) -> dict[str, int]:
        """Each running part's process by name (redis, service-1, daprd-service-1, ...): what a
        benchmark reads the CPU time of."""
        if self.owned is not None:
            return {name: pid for name, pid in self.owned.pids().items() if pid}
        state = running_state(self.settings)
        return dict(state.components or {}) if state is not None else {}

    def logs_tail(self, lines: int = 50) -> dict[str, str]:
        logs = self.settings.run_dir / "logs"
        return {path.stem: tail(path, lines) for path in sorted(logs.glob("*.log"))}
