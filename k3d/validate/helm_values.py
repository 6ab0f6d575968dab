"""The helm values of Prometheus and Grafana: scrape timing, NodePorts, data source, dashboards."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from k3d.validate.report import one_line
from k3d.validate.yaml_files import load_yaml

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")


def parse_duration(value: Any) -> float | None:
    """Seconds in a Prometheus duration such as '2s' or '500ms'; None if it is not one."""
    match = _DURATION.match(str(value))
    if not match:
        return None
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    return float(match.group(1)) * scale


def check_helm_values(path: Path) -> list[str]:
    try:
        values = load_yaml(path)
    except (OSError, yaml.YAMLError) as err:
        return [f"not YAML: {one_line(err)}"]
    if not isinstance(values, dict):
        return ["helm values must be a mapping"]
    if path.name == "prometheus.yaml":
        return _prometheus_values_problems(values)
    if path.name == "grafana.yaml":
        return _grafana_values_problems(values)
    return []


def _prometheus_values_problems(values: dict[str, Any]) -> list[str]:
    problems = []
    server = values.get("server") or {}
    scrape = parse_duration((server.get("global") or {}).get("scrape_interval"))
    timeout = parse_duration((server.get("global") or {}).get("scrape_timeout"))
    if scrape is None or not 1 <= scrape <= 5:
        problems.append("server.global.scrape_interval must be 1s..5s")
    elif timeout is None or timeout > scrape:
        problems.append("server.global.scrape_timeout must be set and not above scrape_interval")
    service = server.get("service") or {}
    if service.get("type") != "NodePort" or not service.get("nodePort"):
        problems.append("server.service must be a NodePort with a fixed nodePort")
    jobs = values.get("scrapeConfigs") or {}
    if (jobs.get("kubernetes-service-endpoints") or {}).get("enabled") is False:
        problems.append("kubernetes-service-endpoints is what scrapes the <app-id>-dapr Services")
    if (jobs.get("kubernetes-nodes-cadvisor") or {}).get("enabled") is False:
        problems.append("kubernetes-nodes-cadvisor feeds the CPU panels of Dapr's dashboards")
    return problems


def _grafana_values_problems(values: dict[str, Any]) -> list[str]:
    problems = []
    sources = (values.get("datasources") or {}).get("datasources.yaml", {}).get("datasources", [])
    dapr = [source for source in sources if source.get("name") == "Dapr"]
    if not dapr or dapr[0].get("type") != "prometheus":
        problems.append("datasources: a Prometheus data source named 'Dapr' is needed")
    elif "prometheus-server" not in str(dapr[0].get("url", "")):
        problems.append("datasource Dapr must point at the prometheus-server Service")
    service = values.get("service") or {}
    if service.get("type") != "NodePort" or not service.get("nodePort"):
        problems.append("service must be a NodePort with a fixed nodePort")
    providers = (values.get("dashboardProviders") or {}).get("dashboardproviders.yaml", {})
    provider_names = {provider.get("name") for provider in providers.get("providers", [])}
    config_maps = values.get("dashboardsConfigMaps") or {}
    for provider in ("dapr", "suite"):
        if provider not in provider_names or provider not in config_maps:
            problems.append(f"dashboard provider {provider!r} needs a provider and a config map")
    return problems
