"""Settings of the local stack, read once from the environment and passed down."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.brokers import BROKER_NAMES, BROKERS, Broker, BrokerPlace
from harness.brokers.own import OwnComponent
from harness.env import env_choice, env_flag, env_int, env_seconds
from harness.errors import SettingsError
from harness.ports import require_pinned_range
from harness.subscription_profile import PROFILES, STANDARD
from harness.tokens import tokens_enabled

REPO_ROOT = Path(__file__).resolve().parent.parent

# How the suite runs a Starlette app under uvicorn: uvloop and httptools (C parsers and event
# loop) instead of asyncio's loop and h11, and no access log line per request.
UVICORN_FLAGS = ("--loop", "uvloop", "--http", "httptools", "--no-access-log",
                 "--log-level", "warning")  # fmt: skip
DEFAULT_DAPR_VERSION = "1.18.3"


@dataclass(frozen=True)
class SidecarPorts:
    """The four ports one daprd listens on."""

    http: int
    grpc: int
    internal_grpc: int
    metrics: int

    def all(self) -> dict[str, int]:
        return {
            "http": self.http,
            "grpc": self.grpc,
            "internal-grpc": self.internal_grpc,
            "metrics": self.metrics,
        }


@dataclass(frozen=True)
class StackSettings:
    """Everything the local stack needs to know; defaults pin every port below 32768."""

    dapr_version: str = DEFAULT_DAPR_VERSION
    daprd_path: str | None = None
    run_dir: Path = REPO_ROOT / ".run" / "local-stack"
    host: str = "127.0.0.1"
    redis_port: int = 6390
    prometheus_port: int = 9095
    service1_port: int = 6060
    service2_port: int = 7070
    sidecar1: SidecarPorts = field(default_factory=lambda: SidecarPorts(3500, 3501, 3502, 9091))
    sidecar2: SidecarPorts = field(default_factory=lambda: SidecarPorts(3510, 3511, 3512, 9092))
    t2_delay_seconds: float = 10.0
    # service-1's publish admission (system_under_test/service1/admission.py); 0: off
    publish_max_backlog: int = 0
    scrape_interval_seconds: int = 1
    ready_timeout_seconds: float = 30.0
    log_level: str = "info"
    # uvicorn import strings; a test of the suite swaps in a broken variant here
    service1_app: str = "system_under_test.service1.app:app"
    service2_app: str = "system_under_test.service2.app:app"
    dapr_config: Path | None = None  # None: system_under_test/resources/config.yaml
    # A Docker image to run a service from instead of its source (harness.containers)
    service1_image: str = ""
    service2_image: str = ""
    tokens: bool = True  # HARNESS_TOKENS=off: a tokenless stack (harness/tokens.py)
    dapr_resources: Path | None = None  # None: system_under_test/resources
    subscription_profile: str = STANDARD  # harness/subscription_profile.py
    # Jaeger (optional): the query API and UI, its gRPC query port, the OTLP/HTTP receiver
    jaeger: bool = False
    jaeger_query_port: int = 9686
    jaeger_grpc_port: int = 9685
    jaeger_otlp_port: int = 9318
    # The broker behind the pubsub components (harness/brokers); its ports start here
    broker: str = "redis"
    broker_port: int = 6400
    # HARNESS_PUBSUB_COMPONENT: a user's own pubsub component instead (broker "own")
    pubsub_component: Path | None = None
    # Set by the fault stack (never from the environment): a proxy in front of the broker's
    # client port, and whether the broker keeps its data across a restart
    broker_proxy_port: int | None = None
    broker_persistent: bool = True

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> StackSettings:
        env = dict(os.environ if env is None else env)
        base = cls().shifted(env_int(env, "HARNESS_PORT_OFFSET", 0))
        settings = cls(
            dapr_version=env.get("DAPR_VERSION", "").strip().lstrip("v") or base.dapr_version,
            daprd_path=env.get("DAPRD") or None,
            run_dir=Path(env.get("HARNESS_RUN_DIR") or base.run_dir),
            redis_port=env_int(env, "HARNESS_REDIS_PORT", base.redis_port),
            prometheus_port=env_int(env, "HARNESS_PROMETHEUS_PORT", base.prometheus_port),
            service1_port=env_int(env, "HARNESS_SERVICE1_PORT", base.service1_port),
            service2_port=env_int(env, "HARNESS_SERVICE2_PORT", base.service2_port),
            t2_delay_seconds=env_seconds(env, "T2_DELAY_SECONDS", base.t2_delay_seconds),
            publish_max_backlog=env_int(env, "PUBLISH_MAX_BACKLOG", base.publish_max_backlog),
            ready_timeout_seconds=env_seconds(
                env, "HARNESS_READY_TIMEOUT", base.ready_timeout_seconds
            ),
            sidecar1=base.sidecar1,
            sidecar2=base.sidecar2,
            log_level=env.get("HARNESS_DAPR_LOG_LEVEL", base.log_level),
            service1_app=env.get("HARNESS_SERVICE1_APP") or base.service1_app,
            service2_app=env.get("HARNESS_SERVICE2_APP") or base.service2_app,
            dapr_config=Path(env["HARNESS_DAPR_CONFIG"])
            if env.get("HARNESS_DAPR_CONFIG")
            else None,
            service1_image=env.get("HARNESS_SERVICE1_IMAGE", ""),
            service2_image=env.get("HARNESS_SERVICE2_IMAGE", ""),
            tokens=tokens_enabled(env),
            dapr_resources=Path(env["HARNESS_DAPR_RESOURCES"])
            if env.get("HARNESS_DAPR_RESOURCES")
            else None,
            subscription_profile=env_choice(env, "HARNESS_SUBSCRIPTION_PROFILE", PROFILES)
            or STANDARD,
            jaeger=env_flag(env, "HARNESS_JAEGER"),
            jaeger_query_port=base.jaeger_query_port,
            jaeger_grpc_port=base.jaeger_grpc_port,
            jaeger_otlp_port=base.jaeger_otlp_port,
            broker=chosen_broker(env) or base.broker,
            broker_port=base.broker_port,
            pubsub_component=Path(env[OWN_ENV]) if env.get(OWN_ENV, "").strip() else None,
        )
        settings.validate()
        return settings

    def shifted(self, offset: int) -> StackSettings:
        """The same stack with every port moved by `offset`, to run a second one beside it."""
        if offset == 0:
            return self

        def move(ports: SidecarPorts) -> SidecarPorts:
            return SidecarPorts(*(port + offset for port in ports.all().values()))

        return replace(
            self,
            # its own run folder too: a second stack must not clear the first one's files
            run_dir=self.run_dir.with_name(f"{self.run_dir.name}-{offset}"),
            redis_port=self.redis_port + offset,
            prometheus_port=self.prometheus_port + offset,
            service1_port=self.service1_port + offset,
            service2_port=self.service2_port + offset,
            sidecar1=move(self.sidecar1),
            sidecar2=move(self.sidecar2),
            jaeger_query_port=self.jaeger_query_port + offset,
            jaeger_grpc_port=self.jaeger_grpc_port + offset,
            jaeger_otlp_port=self.jaeger_otlp_port + offset,
            broker_port=self.broker_port + offset,
        )

    def ports(self) -> dict[str, int]:
        """Every port the stack binds, named by who binds it."""
        named = {
            "redis": self.redis_port,
            "prometheus": self.prometheus_port,
            "service-1": self.service1_port,
            "service-2": self.service2_port,
        }
        for app_id, sidecar in (("service-1", self.sidecar1), ("service-2", self.sidecar2)):
            for kind, port in sidecar.all().items():
                named[f"daprd-{app_id} {kind}"] = port
        for index, name in enumerate(self.broker_server().port_names):
            named[name] = self.broker_port + index
        if self.jaeger:
            named["jaeger"] = self.jaeger_query_port
            named["jaeger grpc"] = self.jaeger_grpc_port
            named["jaeger otlp"] = self.jaeger_otlp_port
        return named

    def validate(self) -> None:
        ports = self.ports()
        require_pinned_range(ports, SettingsError)
        seen: dict[int, str] = {}
        for name, port in ports.items():
            if port in seen:
                raise SettingsError(f"port {port} is given to both {seen[port]} and {name}")
            seen[port] = name
        if self.dapr_config is not None and not self.dapr_config.is_file():
            raise SettingsError(f"HARNESS_DAPR_CONFIG={self.dapr_config} is not a file")
        if self.dapr_resources is not None and not self.dapr_resources.is_dir():
            raise SettingsError(f"HARNESS_DAPR_RESOURCES={self.dapr_resources} is not a folder")

    def broker_server(self) -> Broker:
        if self.broker == OWN and self.pubsub_component is not None:
            return OwnComponent.load(self.pubsub_component)
        return BROKERS[self.broker]

    def broker_place(self) -> BrokerPlace:
        """Where the broker listens; Redis Streams use the stack's own Redis."""
        first = self.redis_port if self.broker == "redis" else self.broker_port
        return BrokerPlace(
            self.host, first, self.run_dir / "broker", self.broker_proxy_port,
            self.broker_persistent,
        )  # fmt: skip

    def redis_dialled(self) -> int:
        """The port the Redis components dial: the broker's proxy when Redis is the broker
        (its state store shares the server, so a cut to the broker cuts it too)."""
        return self.broker_place().dialled(0) if self.broker == "redis" else self.redis_port

    def url(self, port: int) -> str:
        return f"http://{self.host}:{port}"


OWN = "own"
OWN_ENV = "HARNESS_PUBSUB_COMPONENT"


def chosen_broker(env: dict[str, str]) -> str | None:
    """HARNESS_BROKER, or "own" for HARNESS_PUBSUB_COMPONENT; both at once are refused."""
    named = env_choice(env, "HARNESS_BROKER", BROKER_NAMES)
    if not env.get(OWN_ENV, "").strip():
        return named
    if named not in (None, "redis"):
        raise SettingsError(
            f"{OWN_ENV} and HARNESS_BROKER={named} both choose the broker; unset one"
        )
    return OWN
