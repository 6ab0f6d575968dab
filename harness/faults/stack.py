"""The faults profile of the local stack: what a fault scenario runs on.

Like the local stack on the selected broker (HARNESS_BROKER), minus Prometheus (the
scenarios read Dapr's counters straight from the sidecars), plus:
- the broker keeping its data across a restart, unless the scenario is about a broker
  without persistence: redis-server with AOF and `appendfsync always`, JetStream's file
  store, mosquitto's persistence, Kafka's log dir, RabbitMQ's durable queues and persistent
  messages (each broker's module says how);
- Toxiproxy in front of the broker's client port: the sidecars reach the broker only
  through it (on Redis the state store too, as it shares the server);
- a redelivery of unacknowledged messages after 5 s where the component has such a knob
  (`Broker.fault_metadata`: pubsub.redis `processingTimeout`, JetStream's `ackWait`);
- optionally a second service-1 replica (same app id, its own daprd, the same ledger).

Its ports are the local stack's shifted by its own offset and it has its own run
directory, so it never touches a stack started with `python -m harness up`.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness.brokers.own import OwnComponent
from harness.daprd import ensure_daprd
from harness.env import env_choice, env_int
from harness.errors import HarnessError, SettingsError
from harness.faults.toxiproxy import Toxiproxy, ensure_toxiproxy
from harness.local_stack import Component, LocalStack
from harness.ports import ensure_ports_free
from harness.processes import ManagedProcess
from harness.resources import render_dapr_resources
from harness.settings import REPO_ROOT, SidecarPorts, StackSettings
from harness.tools import ensure_tools

DEFAULT_FAULTS_OFFSET = 2000  # beside a default stack and the integration tests' 1000..1500
BROKER_PROXY = "broker"  # the Toxiproxy proxy in front of the broker's client port
BROKER = "broker"  # a scenario's name for the broker's process, whichever broker it is
REPLICA = "service-1b"


@dataclass(frozen=True)
class FaultProfile:
    """How a scenario's stack differs from the plain local stack."""

    persistence: bool = True  # the broker keeps its data across a restart
    through_proxy: bool = True  # False only to prove a network check notices a bypass
    replica: bool = False
    processing_timeout_ms: int = 5000  # unacknowledged deliveries come back after this


def profile_from_env(profile: FaultProfile, env: dict[str, str] | None = None) -> FaultProfile:
    """A scenario's profile with the environment's overrides, to see what Dapr does with
    other settings (and to prove that a check goes red when a guarantee is switched off):
    FAULTS_PROCESSING_TIMEOUT_MS (0 switches Redis's redelivery off), FAULTS_BROKER_PERSISTENCE
    (`off`: the broker keeps nothing across a restart), FAULTS_BROKER_PROXY (`off`: the
    sidecars bypass Toxiproxy)."""
    env = dict(os.environ if env is None else env)
    timeout = env_int(env, "FAULTS_PROCESSING_TIMEOUT_MS", -1)
    if timeout != -1:
        if not 0 <= timeout <= 600_000:
            raise SettingsError(f"FAULTS_PROCESSING_TIMEOUT_MS={timeout} must be ms in 0..600000")
        profile = dataclasses.replace(profile, processing_timeout_ms=timeout)
    persistence = env_choice(env, "FAULTS_BROKER_PERSISTENCE", ("on", "off"))
    if persistence:
        profile = dataclasses.replace(profile, persistence=persistence == "on")
    proxy = env_choice(env, "FAULTS_BROKER_PROXY", ("on", "off"))
    if proxy:
        profile = dataclasses.replace(profile, through_proxy=proxy == "on")
    return profile


def faults_settings(
    env: dict[str, str] | None = None, run_dir: Path | None = None
) -> StackSettings:
    """The environment's settings, moved to the faults offset and run directory by default."""
    env = dict(os.environ if env is None else env)
    env.setdefault("HARNESS_PORT_OFFSET", str(DEFAULT_FAULTS_OFFSET))
    env.setdefault("HARNESS_RUN_DIR", str(run_dir or REPO_ROOT / ".run" / "faults"))
    env["T2_DELAY_SECONDS"] = "0"  # slow handlers are asked for per message
    return StackSettings.from_env(env)


@dataclass(frozen=True)
class FaultPorts:
    """The ports the faults profile adds to the local stack's."""

    toxiproxy_api: int
    broker_proxy: int
    replica_app: int
    replica_sidecar: SidecarPorts

    @classmethod
    def of(cls, s: StackSettings) -> FaultPorts:
        shift = s.redis_port - 6390  # the offset the settings were moved by
        return cls(
            toxiproxy_api=8474 + shift,
            broker_proxy=s.redis_port + 1,
            replica_app=s.service1_port + 1,
            replica_sidecar=SidecarPorts(3520 + shift, 3521 + shift, 3522 + shift, 9093 + shift),
        )


class FaultStack(LocalStack):
    """A local stack a fault scenario may break; always stopped with everything it restarted."""

    def __init__(self, settings: StackSettings, profile: FaultProfile, quiet: bool = True) -> None:
        extra = FaultPorts.of(settings)
        settings = dataclasses.replace(
            settings,
            broker_proxy_port=extra.broker_proxy if profile.through_proxy else None,
            broker_persistent=profile.persistence,
        )
        super().__init__(settings, quiet=quiet)
        self.profile = profile
        self.extra = extra
        self.broker = settings.broker_server()
        self.toxiproxy = Toxiproxy(settings.url(self.extra.toxiproxy_api))

    # -- what it runs -------------------------------------------------------------------

    def named_ports(self) -> dict[str, int]:
        ports = {k: v for k, v in self.settings.ports().items() if k != "prometheus"}
        ports.update(
            {"toxiproxy api": self.extra.toxiproxy_api, "broker proxy": self.extra.broker_proxy}
        )
        if self.profile.replica:
            ports[REPLICA] = self.extra.replica_app
            for kind, port in self.extra.replica_sidecar.all().items():
                ports[f"daprd-{REPLICA} {kind}"] = port
        return ports

    def preflight(self) -> tuple[dict[str, str], Path]:
        if isinstance(self.broker, OwnComponent):
            raise HarnessError(
                "faults need a broker the harness starts, restarts and proxies; "
                "unset HARNESS_PUBSUB_COMPONENT (pick one with HARNESS_BROKER)"
            )
        tools = ensure_tools(
            ["redis-server", *([self.broker.command] if self.broker.command else [])]
        )
        tools["toxiproxy-server"] = str(ensure_toxiproxy())
        daprd = ensure_daprd(self.settings.dapr_version)
        ensure_ports_free(self.named_ports(), self.settings.host)
        return tools, daprd

    def _plan(self, tools: dict[str, str], daprd: Path) -> dict[str, Component]:
        s, extra = self.settings, self.extra
        resources, config = render_dapr_resources(self.settings)
        self._tune_pubsub(resources)
        components = {
            "redis": self._redis(tools["redis-server"]),
            **self._broker(tools),
            "toxiproxy": self._toxiproxy(tools["toxiproxy-server"]),
            "service-1": self._service("service-1", s.service1_app, s.service1_port, s.sidecar1),
            "service-2": self._service("service-2", s.service2_app, s.service2_port, s.sidecar2),
            "daprd-service-1": self._daprd(
                daprd, "service-1", s.service1_port, s.sidecar1, resources, config
            ),
            "daprd-service-2": self._daprd(
                daprd, "service-2", s.service2_port, s.sidecar2, resources, config
            ),
        }
        if self.profile.replica:
            app = self._service(
                "service-1", s.service1_app, extra.replica_app, extra.replica_sidecar
            )
            components[REPLICA] = self._renamed(app, REPLICA)  # its readiness is its URL
            components[f"daprd-{REPLICA}"] = self._daprd(
                daprd, "service-1", extra.replica_app, extra.replica_sidecar, resources, config,
                name=f"daprd-{REPLICA}",
            )  # fmt: skip
        return components

    def _renamed(self, component: Component, name: str) -> Component:
        process = dataclasses.replace(component.process, name=name, log_path=self._log(name))
        return Component(process, component.ready)

    def _redis(self, binary: str) -> Component:
        component = super()._redis(binary)
        if self.profile.persistence:
            argv = component.process.argv
            at = argv.index("--appendonly")
            argv[at : at + 2] = ["--appendonly", "yes", "--appendfsync", "always"]
        return component

    def _toxiproxy(self, binary: str) -> Component:
        argv = [binary, "-host", self.settings.host, "-port", str(self.extra.toxiproxy_api)]
        process = ManagedProcess("toxiproxy", argv, self._log("toxiproxy"))
        return Component(process, self.toxiproxy.ready)

    def _tune_pubsub(self, resources: Path) -> None:
        """The broker's pubsub components redeliver fast (their address is the proxy's
        already: the settings carry it to the broker's metadata)."""
        wanted = self.broker.fault_metadata(self.profile.processing_timeout_ms)
        for path in sorted(resources.glob("*.yaml")):
            resource = yaml.safe_load(path.read_text())
            if resource.get("kind") != "Component" or not wanted:
                continue
            if resource["spec"]["type"] != self.broker.component_type:
                continue
            entries = resource["spec"]["metadata"]
            entries[:] = [e for e in entries if e["name"] not in wanted]
            entries.extend({"name": k, "value": v} for k, v in wanted.items())
            path.write_text(yaml.safe_dump(resource, sort_keys=False))

    # -- starting -------------------------------------------------------------------------

    def _start_and_wait(self) -> None:
        first = ["redis", *self._broker_names(), "toxiproxy"]
        for name in first:
            self._launch(name)
        self._wait_ready(first, self._ready_seconds(self.broker_name))
        place = self.settings.broker_place()
        upstream = f"{place.host}:{place.port(self.broker.client_port)}"
        proxy = f"{place.host}:{self.extra.broker_proxy}"
        self.toxiproxy.create_proxy(BROKER_PROXY, proxy, upstream)
        self._prepare_broker()
        rest = [name for name in self.components if name not in first]
        for name in rest:
            self._launch(name)
        self._wait_ready(rest)

    @property
    def broker_name(self) -> str:
        """The broker's process: the stack's redis-server when Redis is the broker."""
        return self._broker_names()[0] if self._broker_names() else "redis"

    def component(self, name: str) -> Component:
        return super().component(self.broker_name if name == BROKER else name)

    def restart(self, name: str) -> None:
        super().restart(self.broker_name if name == BROKER else name)

    def stop(self) -> None:
        super().stop()
        self.toxiproxy.close()

    def sidecar_connections_to_broker_proxy(self) -> int:
        """Open TCP connections from the sidecars to the broker's proxy, read from the
        kernel: proof that their broker traffic takes Toxiproxy (its byte counters only move
        when a connection closes, and daprd keeps its connections open)."""
        import psutil  # a dependency of locust, which the fault load runs beside

        count = 0
        for name, component in self.components.items():
            pid = component.process.pid
            if not name.startswith("daprd-") or pid is None:
                continue
            try:
                connections = psutil.Process(pid).net_connections(kind="tcp")
            except psutil.Error:
                continue  # a sidecar the scenario stopped has no connections
            count += sum(
                1
                for c in connections
                if c.status == psutil.CONN_ESTABLISHED
                and c.raddr
                and c.raddr.port == self.extra.broker_proxy
            )
        return count

    def __enter__(self) -> FaultStack:
        self.start()
        return self

    # -- where to look --------------------------------------------------------------------

    def sidecar_metrics_urls(self) -> dict[str, str]:
        s = self.settings
        urls = {
            "daprd-service-1": f"{s.url(s.sidecar1.metrics)}/metrics",
            "daprd-service-2": f"{s.url(s.sidecar2.metrics)}/metrics",
        }
        if self.profile.replica:
            urls[f"daprd-{REPLICA}"] = f"{s.url(self.extra.replica_sidecar.metrics)}/metrics"
        return urls

    def require_running(self, name: str) -> None:
        if not self.component(name).process.running():
            raise HarnessError(f"cannot inject a fault into {name}: it is not running")
