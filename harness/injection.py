"""What Dapr's sidecar injector must make of a pod: the daprd container's arguments that
follow from the pod's `dapr.io/*` annotations, and how they must agree with the app; and
what Dapr's operator must make of a Deployment: the `<app-id>-dapr` Service Prometheus
scrapes the sidecar through.

The annotation -> flag pairs and the defaults are Dapr 1.18's (pkg/injector/patcher:
sidecar.go's annotation tags, sidecar_container.go's arguments); the tokens are env
variables read from the named Secret's `token` key. `sidecar_problems` checks a pod the
apiserver returned after the real injector patched it, and names every disagreement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DAPRD = "daprd"
ENABLED = "dapr.io/enabled"
# annotation -> (daprd flag, Dapr's default when the annotation is absent)
FLAGS: dict[str, tuple[str, str | None]] = {
    "dapr.io/app-id": ("--app-id", None),  # defaults to the pod's name
    "dapr.io/app-port": ("--app-port", None),
    "dapr.io/app-protocol": ("--app-protocol", "http"),
    "dapr.io/config": ("--config", None),
    "dapr.io/metrics-port": ("--metrics-port", "9090"),
    "dapr.io/log-level": ("--log-level", "info"),
    "dapr.io/sidecar-listen-addresses": ("--dapr-listen-addresses", "[::1],127.0.0.1"),
}
# annotation -> the env variable daprd reads the Secret's `token` into
TOKENS = {
    "dapr.io/api-token-secret": "DAPR_API_TOKEN",
    "dapr.io/app-token-secret": "APP_API_TOKEN",
}


def wants_sidecar(annotations: dict[str, str]) -> bool:
    return annotations.get(ENABLED, "").lower() == "true"


def expected_args(pod_name: str, annotations: dict[str, str]) -> dict[str, str]:
    """daprd flag -> value the injector must pass, from the annotations and Dapr's defaults."""
    expected = {}
    for annotation, (flag, default) in FLAGS.items():
        value = annotations.get(annotation, default)
        if annotation == "dapr.io/app-id" and value is None:
            value = pod_name
        if value is not None:
            expected[flag] = value
    return expected


def expected_token_env(annotations: dict[str, str]) -> dict[str, str]:
    """env variable -> the Secret daprd must read it from."""
    return {env: annotations[key] for key, env in TOKENS.items() if key in annotations}


def flag_values(args: list[str]) -> dict[str, str]:
    """`--flag value` and `--flag=value` pairs of a container's arguments; bare flags -> ''."""
    values: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--") and "=" in arg:
            name, value = arg.split("=", 1)
            values[name] = value
        elif arg.startswith("--"):
            has_value = i + 1 < len(args) and not args[i + 1].startswith("--")
            values[arg] = args[i + 1] if has_value else ""
            i += has_value
        i += 1
    return values


def secret_refs(container: dict[str, Any]) -> dict[str, str]:
    """env variable -> Secret name, for every env entry read from a Secret."""
    refs = {}
    for item in container.get("env") or []:
        ref = ((item.get("valueFrom") or {}).get("secretKeyRef")) or {}
        if ref.get("name"):
            refs[item["name"]] = ref["name"]
    return refs


def _containers(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    spec = pod["spec"]
    every = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
    return {c["name"]: c for c in every}


def sidecar_problems(
    template: dict[str, Any], pod: dict[str, Any], configurations: set[str],
    services: Sequence[dict[str, Any]] = (),
) -> list[str]:  # fmt: skip
    """Where the injected `pod` disagrees with what `template` (the manifest) asks for.

    Two kinds: the daprd arguments that do not follow from the annotations, and the
    annotations that do not fit what is beside them (the app's port, its app id, the
    Secrets it reads its tokens from, a Configuration the manifests define, the ports the
    manifest's Services send to).
    """
    containers = _containers(pod)
    daprd = containers.get(DAPRD)
    if daprd is None:
        return [f"no {DAPRD} container was injected (containers: {sorted(containers)})"]
    annotations = template["metadata"].get("annotations") or {}
    args = flag_values([*(daprd.get("command") or [])[1:], *(daprd.get("args") or [])])
    problems = [
        f"{flag}: daprd has {args.get(flag)!r}, the annotations ask for {value!r}"
        for flag, value in expected_args(pod["metadata"]["name"], annotations).items()
        if args.get(flag) != value
    ]
    tokens = secret_refs(daprd)
    problems += [
        f"{env}: daprd reads Secret {tokens.get(env)!r}, the annotations name {secret!r}"
        for env, secret in expected_token_env(annotations).items()
        if tokens.get(env) != secret
    ]
    problems += _app_problems(template, args, tokens, configurations)
    return problems + service_problems(services, pod)


def service_problems(services: Sequence[dict[str, Any]], pod: dict[str, Any]) -> list[str]:
    """Each port of a Service that selects `pod` must reach a port one of its containers
    declares (by number or by name)."""
    labels = pod["metadata"].get("labels") or {}
    declared = {
        str(value)
        for container in _containers(pod).values()
        for port in container.get("ports") or []
        for value in (port.get("containerPort"), port.get("name"))
        if value is not None
    }
    problems = []
    for service in services:
        selector = service["spec"].get("selector") or {}
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            continue
        for port in service["spec"].get("ports") or []:
            target = str(port.get("targetPort", port["port"]))
            if target not in declared:
                problems.append(
                    f"Service {service['metadata']['name']} sends to port {target}, "
                    f"which no container of the pod declares ({sorted(declared)})"
                )
    return problems


def _app_problems(
    template: dict[str, Any], args: dict[str, str], tokens: dict[str, str], configurations: set[str]
) -> list[str]:
    app = template["spec"]["containers"][0]
    env = {item["name"]: item.get("value") for item in app.get("env") or []}
    ports = {str(p["containerPort"]) for p in app.get("ports") or []}
    problems = []
    if args.get("--app-port") not in ports:
        problems.append(
            f"--app-port: daprd calls the app on {args.get('--app-port')!r}, "
            f"the app listens on {sorted(ports)}"
        )
    if "APP_ID" in env and args.get("--app-id") != env["APP_ID"]:
        problems.append(
            f"--app-id: daprd has {args.get('--app-id')!r}, APP_ID is {env['APP_ID']!r}"
        )
    if args.get("--config") not in configurations:
        problems.append(
            f"--config: {args.get('--config')!r} is not a Configuration of the manifests "
            f"({sorted(configurations)})"
        )
    app_tokens = secret_refs(app)
    problems += [
        f"{name}: daprd reads Secret {tokens.get(name)!r}, the app {secret!r}"
        for name, secret in app_tokens.items()
        if name in TOKENS.values() and tokens.get(name) != secret
    ]
    return problems


def dapr_service_problems(
    deployment: dict[str, Any], service: dict[str, Any] | None,
    manifest_services: Sequence[dict[str, Any]],
) -> list[str]:  # fmt: skip
    """Where the operator's `<app-id>-dapr` Service disagrees with the Deployment's
    annotations, or Prometheus would scrape another port than the manifest's own metrics
    Service (a port named `metrics`) sends to."""
    annotations = deployment["spec"]["template"]["metadata"].get("annotations") or {}
    app_id = annotations.get("dapr.io/app-id", deployment["metadata"]["name"])
    if service is None:
        return [f"no Service {app_id}-dapr was made"]
    port = annotations.get("dapr.io/metrics-port", "9090")
    scraped = service["metadata"].get("annotations") or {}
    problems = []
    if annotations.get("dapr.io/enable-metrics", "true").lower() != "false":
        wanted = {"prometheus.io/scrape": "true", "prometheus.io/port": port,
                  "prometheus.io/path": "/"}  # fmt: skip
        problems += [
            f"{key}: the Service has {scraped.get(key)!r}, the annotations ask for {value!r}"
            for key, value in wanted.items()
            if scraped.get(key) != value
        ]
    ports = {p.get("name"): str(p.get("targetPort")) for p in service["spec"].get("ports") or []}
    if ports.get("dapr-metrics") != port:
        problems.append(f"dapr-metrics: the Service sends to {ports.get('dapr-metrics')!r}")
    labels = deployment["spec"]["template"]["metadata"].get("labels") or {}
    for other in manifest_services:
        selector = other["spec"].get("selector") or {}
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            continue
        for item in other["spec"].get("ports") or []:
            target = str(item.get("targetPort", item["port"]))
            if item.get("name") == "metrics" and target != scraped.get("prometheus.io/port"):
                problems.append(
                    f"Prometheus scrapes port {scraped.get('prometheus.io/port')!r}, "
                    f"Service {other['metadata']['name']} reads the metrics on {target}"
                )
    return problems
