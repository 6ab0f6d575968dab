"""The local stack: redis-server, prometheus, two services and their daprd sidecars.

Everything binds 127.0.0.1 on pinned ports and logs into one run directory. `LocalStack`
starts and stops the processes in this Python process; `harness.supervisor` wraps it so
`python -m harness up` can return while the stack keeps running.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis
import yaml

from harness import containers
from harness.daprd import ensure_daprd
from harness.daprd_log import name_resolver_failure, name_resolver_started
from harness.errors import HarnessError
from harness.jaeger import config as jaeger_config
from harness.jaeger import ensure_jaeger
from harness.ports import ensure_ports_free
from harness.processes import ManagedProcess, fatal_message, stop_all
from harness.progress import say
from harness.resources import (
    broker_topics,
    create_name_db,
    prometheus_config,
    render_dapr_resources,
    render_prometheus_config,
)
from harness.settings import REPO_ROOT, UVICORN_FLAGS, SidecarPorts, StackSettings
from harness.subscription_profile import service1_env
from harness.tokens import StackTokens, issue_tokens
from harness.tools import STACK_COMMANDS, ensure_tools
from harness.wait import poll

SUBSCRIBED_TOPICS = {"t1", "t2"}
LEVELS_LOGGING_INFO = ("debug", "info")


def _never_broken() -> str | None:
    return None


@dataclass
class Component:
    """A process of the stack, how to tell that it is ready, and why it never will be."""

    process: ManagedProcess
    ready: Callable[[], bool]
    broken: Callable[[], str | None] = _never_broken  # a reason once waiting is pointless


def _get(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    # trust_env=False: an http_proxy variable must never reroute loopback traffic
    return httpx.get(url, headers=headers, timeout=1.0, trust_env=False)


def _http_status(url: str) -> int:
    return _get(url).status_code


class LocalStack:
    """Start, check and stop the whole local stack; a context manager that always stops."""

    def __init__(self, settings: StackSettings | None = None, quiet: bool = False) -> None:
        self.settings = settings or StackSettings.from_env()
        self.quiet = quiet
        self.components: dict[str, Component] = {}
        self.timings: dict[str, float] = {}
        self.waiting_for: dict[str, str] = {}  # the last reason a check gave for not ready
        self.tokens = StackTokens()
        self.resources_dir = self.settings.run_dir / "resources"

    # -- life cycle -------------------------------------------------------------------

    def preflight(self) -> tuple[dict[str, str], Path]:
        """Everything that can fail before a process starts: tools, daprd, free ports."""
        broker_command = self.settings.broker_server().command
        tools = ensure_tools([*STACK_COMMANDS, *([broker_command] if broker_command else [])])
        daprd = ensure_daprd(self.settings.dapr_version)
        if self.settings.jaeger:
            tools["jaeger"] = str(ensure_jaeger())
        ensure_ports_free(self.settings.ports(), self.settings.host)
        for app_id, image, port in self._images():
            containers.require_image(image)
            containers.remove(app_id, port)  # left by a `docker run` killed with SIGKILL
        return tools, daprd

    def start(self) -> None:
        started = time.monotonic()
        tools, daprd = self.preflight()
        self._prepare_run_dir()
        self.tokens = issue_tokens(self.settings.run_dir, self.settings.tokens)
        self.components = self._plan(tools, daprd)
        try:
            self._start_and_wait()
        except BaseException:
            self.stop()
            raise
        self.timings["up"] = time.monotonic() - started

    def stop(self) -> None:
        started = time.monotonic()
        stop_all([c.process for c in self.components.values()])
        for app_id, _, port in self._images():
            containers.remove(app_id, port)
        self.timings["down"] = time.monotonic() - started

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- planning ---------------------------------------------------------------------

    def _prepare_run_dir(self) -> None:
        run = self.settings.run_dir
        databases = ("nameresolution.db", "ledger.db")
        stale_files = [f"{db}{suffix}" for db in databases for suffix in ("", "-wal", "-shm")]
        for stale in ("prometheus-data", "redis", "broker", "logs", *stale_files):
            path = run / stale
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        (run / "logs").mkdir(parents=True, exist_ok=True)
        (run / "redis").mkdir(parents=True, exist_ok=True)
        create_name_db(run / "nameresolution.db")

    def _images(self) -> list[tuple[str, str, int]]:
        """(app id, image, port) of each service that runs from an image."""
        s = self.settings
        pairs = [("service-1", s.service1_image, s.service1_port),
                 ("service-2", s.service2_image, s.service2_port)]  # fmt: skip
        return [(app_id, image, port) for app_id, image, port in pairs if image]

    def _log(self, name: str) -> Path:
        return self.settings.run_dir / "logs" / f"{name}.log"

    def _plan(self, tools: dict[str, str], daprd: Path) -> dict[str, Component]:
        resources, config = render_dapr_resources(self.settings)
        self.resources_dir = resources
        prometheus_yml = render_prometheus_config(self.settings)
        s = self.settings
        components = {
            "redis": self._redis(tools["redis-server"]),
            **self._broker(tools),
            "prometheus": self._prometheus(tools["prometheus"], prometheus_yml),
            "service-1": self._service("service-1", s.service1_app, s.service1_port, s.sidecar1),
            "service-2": self._service("service-2", s.service2_app, s.service2_port, s.sidecar2),
        }
        if s.jaeger:  # before the sidecars, so their first spans have somewhere to go
            components["jaeger"] = self._jaeger(tools["jaeger"])
        for app_id, app_port, ports in (
            ("service-1", s.service1_port, s.sidecar1),
            ("service-2", s.service2_port, s.sidecar2),
        ):
            components[f"daprd-{app_id}"] = self._daprd(
                daprd, app_id, app_port, ports, resources, config
            )
        return components

    def _redis(self, binary: str) -> Component:
        s = self.settings
        argv = [
            binary, "--bind", s.host, "--port", str(s.redis_port),
            "--dir", str(s.run_dir / "redis"), "--save", "", "--appendonly", "no",
            "--protected-mode", "yes", "--daemonize", "no",
        ]  # fmt: skip
        client = redis.Redis(host=s.host, port=s.redis_port, socket_timeout=1)
        return Component(ManagedProcess("redis", argv, self._log("redis")), client.ping)

    def _broker(self, tools: dict[str, str]) -> dict[str, Component]:
        """The broker's server, named by the broker; none when Redis is the broker."""
        broker, place = self.settings.broker_server(), self.settings.broker_place()
        if not broker.command:
            return {}
        argv = broker.argv(tools[broker.command], place)
        process = ManagedProcess(broker.name, argv, self._log(broker.name))
        return {broker.name: Component(process, lambda: broker.ready(place))}

    def _prepare_broker(self) -> None:
        """Streams and the like the broker must hold before daprd subscribes."""
        broker = self.settings.broker_server()
        topics = broker_topics(self.resources_dir, dict(os.environ))
        try:
            broker.prepare(self.settings.broker_place(), topics)
        except Exception as err:
            raise HarnessError(f"{broker.name}: could not prepare topics {topics}: {err}") from err

    def _prometheus(self, binary: str, config: Path) -> Component:
        s = self.settings
        argv = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={s.run_dir / 'prometheus-data'}",
            f"--web.listen-address={s.host}:{s.prometheus_port}",
            "--storage.tsdb.retention.time=1d",
            "--web.enable-lifecycle",
        ]
        process = ManagedProcess("prometheus", argv, self._log("prometheus"))
        return Component(process, self._prometheus_ready)

    def _prometheus_ready(self) -> bool:
        """Ready when every scrape target has been scraped successfully."""
        url = f"{self.settings.url(self.settings.prometheus_port)}/api/v1/targets"
        targets = _get(url).json()["data"]["activeTargets"]
        expected = len(prometheus_config(self.settings)["scrape_configs"])
        return len(targets) == expected and all(t["health"] == "up" for t in targets)

    def _jaeger(self, binary: str) -> Component:
        s = self.settings
        path = s.run_dir / "jaeger.yaml"
        config = jaeger_config(s.host, s.jaeger_query_port, s.jaeger_grpc_port, s.jaeger_otlp_port)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        process = ManagedProcess("jaeger", [binary, "--config", str(path)], self._log("jaeger"))
        api = f"{s.url(s.jaeger_query_port)}/api/services"
        return Component(process, lambda: _http_status(api) == 200)

    def _service(self, app_id: str, app: str, port: int, sidecar: SidecarPorts) -> Component:
        s = self.settings
        argv = [
            sys.executable, "-m", "uvicorn", app, "--host", s.host, "--port", str(port),
            *UVICORN_FLAGS,
        ]  # fmt: skip
        env = {
            "APP_PORT": str(port),
            "DAPR_HTTP_ENDPOINT": s.url(sidecar.http),
            "DAPR_HTTP_PORT": str(sidecar.http),
            "DAPR_GRPC_PORT": str(sidecar.grpc),
            "T2_DELAY_SECONDS": str(s.t2_delay_seconds),
            "PUBLISH_MAX_BACKLOG": str(s.publish_max_backlog),
            "LEDGER_PATH": str(s.run_dir / "ledger.db"),
            "PYTHONPATH": str(REPO_ROOT),
            **service1_env(s.subscription_profile),
            **self.tokens.service_env(),
        }
        image = dict((a, i) for a, i, _ in self._images()).get(app_id)
        if image:
            process = containers.service_container(app_id, image, port, env, self._log(app_id))
        else:
            process = ManagedProcess(app_id, argv, self._log(app_id), env=env, cwd=REPO_ROOT)
        return Component(process, lambda: _http_status(f"{s.url(port)}/healthz") == 200)

    def _daprd(
        self,
        binary: Path,
        app_id: str,
        app_port: int,
        ports: SidecarPorts,
        resources: Path,
        config: Path,
        name: str = "",
    ) -> Component:
        """daprd beside `app_id`; `name` (default daprd-<app id>) names its process and log."""
        s = self.settings
        name = name or f"daprd-{app_id}"
        argv = [
            str(binary),
            "--app-id", app_id,
            "--app-port", str(app_port),
            "--app-protocol", "http",
            "--app-channel-address", s.host,
            "--dapr-http-port", str(ports.http),
            "--dapr-grpc-port", str(ports.grpc),
            "--dapr-internal-grpc-port", str(ports.internal_grpc),
            "--dapr-listen-addresses", s.host,
            "--dapr-internal-grpc-listen-address", s.host,
            "--metrics-port", str(ports.metrics),
            "--metrics-listen-address", s.host,
            "--resources-path", str(resources),
            "--config", str(config),
            "--log-level", s.log_level,
        ]  # fmt: skip
        env = {"DAPR_HOST_IP": s.host, **self.tokens.daprd_env()}
        process = ManagedProcess(name, argv, self._log(name), env=env, cwd=s.run_dir)
        return Component(
            process,
            lambda: self._daprd_ready(app_id, ports, process),
            lambda: name_resolver_failure(process.log_since_start()),
        )

    def _daprd_ready(self, app_id: str, ports: SidecarPorts, process: ManagedProcess) -> bool:
        base = self.settings.url(ports.http)
        if _http_status(f"{base}/v1.0/healthz") != 204:
            return False
        if not self._resolver_started(process):
            self.waiting_for[process.name] = "daprd has not started its name resolver"
            return False
        if app_id != "service-1":
            return True
        metadata = _get(f"{base}/v1.0/metadata", self.tokens.dapr_headers()).json()
        topics = {sub.get("topic") for sub in metadata.get("subscriptions") or []}
        missing = SUBSCRIBED_TOPICS - topics
        self.waiting_for[process.name] = (
            f"daprd registered subscriptions {sorted(t for t in topics if t)}, "
            f"missing {sorted(missing)}"
        )
        return not missing

    def _resolver_started(self, process: ManagedProcess) -> bool:
        """daprd starts its name resolver, or fails to, before its health check answers; the
        line saying it started is logged at info level and below only."""
        log = process.log_since_start()
        if name_resolver_failure(log):
            return False  # `broken` names it
        quiet = self.settings.log_level.lower() not in LEVELS_LOGGING_INFO
        return quiet or name_resolver_started(log)

    # -- starting ---------------------------------------------------------------------

    def _start_and_wait(self) -> None:
        # Prometheus first: its discovery sends targets to the scrape loop on a fixed
        # 5 s tick, the longest wait of the stack. Redis next: daprd initialises its
        # components against it at start.
        first = ["redis", *self._broker_names()]
        self._launch("prometheus")
        for name in first:
            self._launch(name)
        self._wait_ready(first, self._ready_seconds(self.settings.broker_server().name))
        self._prepare_broker()
        rest = [name for name in self.components if name not in (*first, "prometheus")]
        for name in rest:
            self._launch(name)
        self._wait_ready([*rest, "prometheus"])

    def _ready_seconds(self, name: str) -> float:
        """How long the component may take to get ready: a broker may be slow to start."""
        broker = self.settings.broker_server()
        slow = broker.ready_seconds if name == broker.name else 0.0
        return max(self.settings.ready_timeout_seconds, slow)

    def _broker_names(self) -> list[str]:
        name = self.settings.broker_server().name
        return [name] if name in self.components and name != "redis" else []

    def _launch(self, name: str) -> None:
        self._say(f"starting {name}")
        self.components[name].process.start()

    def _wait_ready(self, names: list[str], timeout: float | None = None) -> None:
        """Until every named component is ready; a dead or late one raises, naming it."""
        pending = list(names)

        def still_pending() -> list[str]:
            for name in list(pending):
                self._check_alive(name)
                self._check_not_broken(name)
                if self._is_ready(name):
                    pending.remove(name)
                    self._say(f"{name} ready")
            return pending

        timeout = timeout or self.settings.ready_timeout_seconds
        late = poll(
            still_pending,
            lambda left: not left,
            timeout=timeout,
            interval=0.05,
            on_timeout="return",
        )
        if late:
            self._fail(late[0], "did not get ready", timeout)

    def _is_ready(self, name: str) -> bool:
        try:
            return bool(self.components[name].ready())
        except Exception:  # noqa: BLE001 - refused connections while starting
            return False

    def _check_alive(self, name: str) -> None:
        process = self.components[name].process
        code = process.exit_code()
        if code is not None:
            self._fail(name, f"exited with code {code}")

    def _check_not_broken(self, name: str) -> None:
        reason = self.components[name].broken()
        if reason:
            self._fail(name, f"cannot get ready: {reason}")

    def _fail(self, name: str, what: str, timeout: float | None = None) -> None:
        within = f" within {timeout:g}s" if timeout else ""
        if name in self.waiting_for:
            within += f" ({self.waiting_for[name]})"
        tail = self.components[name].process.log_tail(15).rstrip()
        reason = fatal_message(tail)
        said = f": {reason}" if reason else ""
        raise HarnessError(
            f"{name} {what}{within}{said}; log {self._log(name)}:\n{tail or '(empty log)'}"
        )

    def _say(self, message: str) -> None:
        if not self.quiet:
            say("harness", message)

    # -- faults: act on one component ---------------------------------------------------

    def component(self, name: str) -> Component:
        """The named component; one line naming the known ones when there is none."""
        if name not in self.components:
            known = ", ".join(sorted(self.components)) or "none"
            raise HarnessError(f"no component {name!r} in this stack (known: {known})")
        return self.components[name]

    def send_signal(self, name: str, signum: int) -> None:
        """Signal the component's whole process group; it must be running."""
        process = self.component(name).process
        if not process.running():
            raise HarnessError(f"cannot signal {name}: it is not running")
        process.signal_group(signum)

    def stop_component(self, name: str, grace: float = 3.0) -> None:
        self.component(name).process.stop(grace)

    def restart(self, name: str) -> None:
        """Start the component again with the same command (stopping it first if it still
        runs) and wait until it is ready; it stays owned and is stopped with the stack."""
        process = self.component(name).process
        if not process.gone():
            process.stop()
        self._launch(name)
        self._wait_ready([name], self._ready_seconds(name))

    # -- looking at it ----------------------------------------------------------------

    def logs_tail(self, lines: int = 40) -> dict[str, str]:
        return {name: c.process.log_tail(lines) for name, c in self.components.items()}

    def pids(self) -> dict[str, int | None]:
        return {name: c.process.pid for name, c in self.components.items()}
