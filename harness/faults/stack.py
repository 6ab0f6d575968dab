"""The faults profile of the local stack: what a fault scenario runs on.

Like the local stack, minus Prometheus (the scenarios read Dapr's counters straight from
the sidecars), plus:
- redis-server with AOF and `appendfsync always`, unless the scenario is about a Redis
  without persistence;
- Toxiproxy between both sidecars and Redis: the sidecars reach Redis only through it;
- pubsub.redis `processingTimeout` and `redeliverInterval` low, as bare integers
  (milliseconds: the component ignores duration strings);
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
REDIS_PROXY = "redis"
REPLICA = "service-1b"


@dataclass(frozen=True)
class FaultProfile:
    """How a scenario's stack differs from the plain local stack."""

    redis_persistence: bool = True  # AOF with appendfsync always
    through_proxy: bool = True  # False only to prove a network check notices a bypass
    replica: bool = False
    processing_timeout_ms: int = 5000
    redeliver_interval_ms: int = 1000


def profile_from_env(profile: FaultProfile, env: dict[str, str] | None = None) -> FaultProfile:
    """A scenario's profile with the environment's overrides, to see what Dapr does with
    other settings (and to prove that a check goes red when a guarantee is switched off):
    FAULTS_PROCESSING_TIMEOUT_MS (0 switches redelivery off), FAULTS_REDIS_PERSISTENCE
    (`aof` or `none`), FAULTS_REDIS_PROXY (`off`: the sidecars bypass Toxiproxy)."""
    env = dict(os.environ if env is None else env)
    timeout = env_int(env, "FAULTS_PROCESSING_TIMEOUT_MS", -1)
    if timeout != -1:
        if not 0 <= timeout <= 600_000:
            raise SettingsError(f"FAULTS_PROCESSING_TIMEOUT_MS={timeout} must be ms in 0..600000")
        profile = dataclasses.replace(profile, processing_timeout_ms=timeout)
    persistence = env_choice(env, "FAULTS_REDIS_PERSISTENCE", ("aof", "none"))
    if persistence:
        profile = dataclasses.replace(profile, redis_persistence=persistence == "aof")
    proxy = env_choice(env, "FAULTS_REDIS_PROXY", ("on", "off"))
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
    redis_proxy: int
    replica_app: int
    replica_sidecar: SidecarPorts

    @classmethod
    def of(cls, s: StackSettings) -> FaultPorts:
        shift = s.redis_port - 6390  # the offset the settings were moved by
        return cls(
            toxiproxy_api=8474 + shift,
            redis_proxy=s.redis_port + 1,
            replica_app=s.service1_port + 1,
            replica_sidecar=SidecarPorts(3520 + shift, 3521 + shift, 3522 + shift, 9093 + shift),
        )


class FaultStack(LocalStack):
    """A local stack a fault scenario may break; always stopped with everything it restarted."""

    def __init__(self, settings: StackSettings, profile: FaultProfile, quiet: bool = True) -> None:
        super().__init__(settings, quiet=quiet)
        self.profile = profile
        self.extra = FaultPorts.of(settings)
        self.toxiproxy = Toxiproxy(settings.url(self.extra.toxiproxy_api))

    # -- what it runs -------------------------------------------------------------------

    def named_ports(self) -> dict[str, int]:
        ports = {k: v for k, v in self.settings.ports().items() if k != "prometheus"}
        ports.update(
            {"toxiproxy api": self.extra.toxiproxy_api, "redis proxy": self.extra.redis_proxy}
        )
        if self.profile.replica:
            ports[REPLICA] = self.extra.replica_app
            for kind, port in self.extra.replica_sidecar.all().items():
                ports[f"daprd-{REPLICA} {kind}"] = port
        return ports

    def preflight(self) -> tuple[dict[str, str], Path]:
        tools = ensure_tools(["redis-server"])
        tools["toxiproxy-server"] = str(ensure_toxiproxy())
        daprd = ensure_daprd(self.settings.dapr_version)
        ensure_ports_free(self.named_ports(), self.settings.host)
        return tools, daprd

    def _plan(self, tools: dict[str, str], daprd: Path) -> dict[str, Component]:
        s, extra = self.settings, self.extra
        resources, config = render_dapr_resources(self.settings)
        self._route_through_proxy(resources)
        components = {
            "redis": self._redis(tools["redis-server"]),
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
            sidecar = self._daprd(
                daprd, "service-1", extra.replica_app, extra.replica_sidecar, resources, config
            )
            components[REPLICA] = self._renamed(app, REPLICA)
            components[f"daprd-{REPLICA}"] = self._renamed(sidecar, f"daprd-{REPLICA}")
        return components

    def _renamed(self, component: Component, name: str) -> Component:
        process = dataclasses.replace(component.process, name=name, log_path=self._log(name))
        return Component(process, component.ready)

    def _redis(self, binary: str) -> Component:
        component = super()._redis(binary)
        if self.profile.redis_persistence:
            argv = component.process.argv
            at = argv.index("--appendonly")
            argv[at : at + 2] = ["--appendonly", "yes", "--appendfsync", "always"]
        return component

    def _toxiproxy(self, binary: str) -> Component:
        argv = [binary, "-host", self.settings.host, "-port", str(self.extra.toxiproxy_api)]
        process = ManagedProcess("toxiproxy", argv, self._log("toxiproxy"))
        return Component(process, self.toxiproxy.ready)

    def _route_through_proxy(self, resources: Path) -> None:
        """Both Redis components reach Redis through Toxiproxy; pub/sub redelivers fast."""
        proxy = f"{self.settings.host}:{self.extra.redis_proxy}"
        if not self.profile.through_proxy:
            proxy = f"{self.settings.host}:{self.settings.redis_port}"
        for path in sorted(resources.glob("*.yaml")):
            resource = yaml.safe_load(path.read_text())
            if resource.get("kind") != "Component":
                continue
            entries = resource["spec"]["metadata"]
            wanted = {"redisHost": proxy}
            if resource["spec"]["type"] == "pubsub.redis":
                wanted["processingTimeout"] = str(self.profile.processing_timeout_ms)
                wanted["redeliverInterval"] = str(self.profile.redeliver_interval_ms)
            entries[:] = [e for e in entries if e["name"] not in wanted]
            entries.extend({"name": k, "value": v} for k, v in wanted.items())
            path.write_text(yaml.safe_dump(resource, sort_keys=False))

    # -- starting -------------------------------------------------------------------------

    def _start_and_wait(self) -> None:
        self._launch("redis")
        self._launch("toxiproxy")
        self._wait_ready(["redis", "toxiproxy"])
        upstream = f"{self.settings.host}:{self.settings.redis_port}"
        proxy = f"{self.settings.host}:{self.extra.redis_proxy}"
        self.toxiproxy.create_proxy(REDIS_PROXY, proxy, upstream)
        rest = [name for name in self.components if name not in ("redis", "toxiproxy")]
        for name in rest:
            self._launch(name)
        self._wait_ready(rest)

    def stop(self) -> None:
        super().stop()
        self.toxiproxy.close()

    def sidecar_connections_to_redis_proxy(self) -> int:
        """Open TCP connections from the sidecars to the Redis proxy, read from the kernel:
        proof that their Redis traffic takes Toxiproxy (its byte counters only move when a
        connection closes, and daprd keeps its Redis connections open)."""
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
                and c.raddr.port == self.extra.redis_proxy
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
