"""A user's own pubsub component (HARNESS_PUBSUB_COMPONENT), its broker already running.

The stack starts no broker for it: the component file's type, version and metadata replace
those of the suite's pubsub components (their names and scopes stay, so the services still
publish to `messagebus`). The broker's own count is read where the suite knows how to reach
that kind of broker from the component's metadata (Redis Streams today); elsewhere it
raises `NotCountable`, and the check that needs it says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.brokers.base import BrokerPlace
from harness.errors import HarnessError

ENV = "HARNESS_PUBSUB_COMPONENT"


class NotCountable(HarnessError):
    """The suite cannot ask this broker how many messages it took."""


@dataclass
class OwnComponent:
    path: Path
    component_type: str
    component_version: str
    metadata: tuple[tuple[str, str], ...]
    name: str = "own"
    command: str = ""
    port_names: tuple[str, ...] = ()
    client_port: int = 0
    ready_seconds: float = 30.0

    @classmethod
    def load(cls, path: Path) -> OwnComponent:
        """The component file, checked; one line naming what is wrong otherwise."""
        import yaml  # here: settings, which the stdlib-only installers import, import this

        try:
            resource = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            reason = _first_line(exc)
            raise HarnessError(f"{ENV}={path}: cannot be read as YAML: {reason}") from None
        spec = resource.get("spec") if isinstance(resource, dict) else None
        if not isinstance(spec, dict) or resource.get("kind") != "Component":
            raise HarnessError(f"{ENV}={path}: not a Dapr Component (kind: Component with a spec)")
        kind = str(spec.get("type", ""))
        if not kind.startswith("pubsub."):
            raise HarnessError(f"{ENV}={path}: spec.type {kind!r} is not a pubsub component")
        return cls(path, kind, str(spec.get("version", "v1")), _values(path, spec))

    def argv(self, binary: str, place: BrokerPlace) -> list[str]:
        raise NotImplementedError("the user's broker is already running")

    def ready(self, place: BrokerPlace) -> bool:
        return True  # daprd tells: it refuses a component whose broker it cannot reach

    def prepare(self, place: BrokerPlace, topics: list[str]) -> None:
        return None  # the user's broker is set up by the user

    def component_metadata(self, place: BrokerPlace, component: str) -> dict[str, str]:
        return dict(self.metadata)

    def messages(self, place: BrokerPlace, topic: str) -> int:
        if self.component_type == "pubsub.redis":
            return _redis_stream_length(dict(self.metadata), topic)
        raise NotCountable(
            f"{self.component_type}: the suite cannot count messages on a broker it does not "
            "manage (it can for pubsub.redis)"
        )

    def fault_metadata(self, redeliver_after_ms: int) -> dict[str, str]:
        return {}  # the user's component stays as the user wrote it


def _values(path: Path, spec: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The metadata as name/value pairs; the local stack has no secret store to resolve
    a secretKeyRef, so such an entry is refused."""
    entries = spec.get("metadata") or []
    if not isinstance(entries, list):
        raise HarnessError(f"{ENV}={path}: spec.metadata must be a list of name/value entries")
    pairs = []
    for entry in entries:
        if not isinstance(entry, dict) or "name" not in entry:
            raise HarnessError(f"{ENV}={path}: a metadata entry without a name: {entry!r}")
        if "value" not in entry:
            raise HarnessError(
                f"{ENV}={path}: metadata {entry['name']!r} has no value (the local stack has "
                "no secret store for a secretKeyRef)"
            )
        pairs.append((str(entry["name"]), str(entry["value"])))
    return tuple(pairs)


def _redis_stream_length(metadata: dict[str, str], topic: str) -> int:
    import redis as redis_client  # here: the installers import this package on the stdlib

    host, _, port = metadata.get("redisHost", "").rpartition(":")
    client = redis_client.Redis(
        host=host or "127.0.0.1",
        port=int(port or 6379),
        password=metadata.get("redisPassword") or None,
        username=metadata.get("redisUsername") or None,
        socket_timeout=2,
    )
    try:
        return int(client.xlen(topic))
    finally:
        client.close()


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
