"""The suite's Grafana dashboard: its panel queries, and checks that they can work.

A dashboard query that names a metric Dapr never emits draws an empty panel and nobody
notices. So every query is checked offline against the metric families (and their
labels) that daprd v1.18 registers: the catalogue in harness.dapr_catalogue.
`dashboard_queries()` gives the queries with Grafana's variables filled in, so a test
can run each one against a live Prometheus.

Standard library only (and the catalogue): the offline checks import this without the k3d extras.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.dapr_catalogue import KNOWN_METRICS, SCRAPE_LABELS, metric_labels

DASHBOARD_PATH = Path(__file__).resolve().parent / "dashboards" / "pubsub.json"
DATASOURCE = "Dapr"

# PromQL's functions, aggregations and keywords: anything else bare is a metric name.
_FUNCTIONS = frozenset(
    """abs absent absent_over_time avg_over_time ceil changes clamp clamp_max clamp_min
    count_over_time day_of_month day_of_week delta deriv exp floor histogram_quantile
    holt_winters idelta increase irate label_join label_replace last_over_time ln log10
    log2 max_over_time min_over_time predict_linear present_over_time quantile_over_time
    rate resets round scalar sgn sort sort_desc sqrt stddev_over_time stdvar_over_time
    sum_over_time time timestamp vector year month hour minute""".split()  # noqa: SIM905
)
_AGGREGATIONS = frozenset(
    "sum min max avg group stddev stdvar count count_values bottomk topk quantile".split()  # noqa: SIM905
)
_KEYWORDS = frozenset(
    "by without on ignoring group_left group_right bool and or unless offset inf nan".split()  # noqa: SIM905
)
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GRAFANA_VARIABLE = re.compile(r"\$\{?(__rate_interval|__interval|__range)\}?")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{([^{}]*)\}")
_MATCHER = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*\"")


@dataclass(frozen=True)
class PanelQuery:
    """One query of one panel: `promql` has Grafana's variables replaced, `expr` is raw."""

    panel_id: int
    panel_title: str
    ref_id: str
    expr: str
    promql: str
    legend: str


def load_dashboard(path: Path = DASHBOARD_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        dashboard = json.load(handle)
    if not isinstance(dashboard, dict):
        raise ValueError(f"{path}: a dashboard is a JSON object")
    return dashboard


def iter_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside (collapsed) rows included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def fill_variables(expr: str, rate_interval: str = "1m", range_: str = "5m") -> str:
    """Replace the Grafana variables our dashboard uses with fixed durations."""
    values = {"__rate_interval": rate_interval, "__interval": rate_interval, "__range": range_}
    return _GRAFANA_VARIABLE.sub(lambda m: values[m.group(1)], expr)


def dashboard_queries(
    path: Path = DASHBOARD_PATH, *, rate_interval: str = "1m", range_: str = "5m"
) -> list[PanelQuery]:
    """The dashboard's queries, ready to send to Prometheus' /api/v1/query."""
    queries = []
    for panel in iter_panels(load_dashboard(path)):
        for target in panel.get("targets", []):
            expr = target.get("expr", "")
            queries.append(
                PanelQuery(
                    panel_id=panel.get("id", 0),
                    panel_title=panel.get("title", ""),
                    ref_id=target.get("refId", ""),
                    expr=expr,
                    promql=fill_variables(expr, rate_interval, range_),
                    legend=target.get("legendFormat", ""),
                )
            )
    return queries


def _balance_problem(text: str) -> str | None:
    closing = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for char in text:
        if char in "([{":
            stack.append(char)
        elif char in closing:
            if not stack or stack[-1] != closing[char]:
                return f"unbalanced {char!r}"
            stack.pop()
    return f"unclosed {stack[-1]!r}" if stack else None


def promql_problems(expr: str) -> list[str]:
    """What is wrong with one query, as far as can be told without a Prometheus."""
    if not expr.strip():
        return ["empty query"]
    bare = _STRING.sub('""', expr)
    unbalanced = _balance_problem(bare)
    if unbalanced:
        return [unbalanced]
    bare = fill_variables(bare)
    if "$" in bare:
        return [f"unknown Grafana variable in {expr!r}"]

    problems: list[str] = []
    metrics = _metric_names(bare, problems)
    if not metrics and not problems:
        problems.append("names no metric")
    if metrics and not problems:  # labels only make sense once the metrics are right
        problems.extend(_label_problems(expr, metrics))
    if "histogram_quantile" in bare:
        if not any(name.endswith("_bucket") for name in metrics):
            problems.append("histogram_quantile over a series that is not a _bucket")
        if not re.search(r"\b(by)\s*\([^()]*\ble\b", bare):
            problems.append("histogram_quantile needs 'le' kept: sum by (le, ...)")
    return problems


def _metric_names(bare: str, problems: list[str]) -> list[str]:
    """Metric names in a query with its strings blanked; unknown names go to problems."""
    text = re.sub(r"\{[^{}]*\}", " ", bare)  # label matchers
    text = re.sub(r"\[[^\[\]]*\]", " ", text)  # range selectors
    text = _GROUPING.sub(" ", text)  # by (...), on (...): label lists
    text = re.sub(r"\b\d+(ms|s|m|h|d|w|y)\b", " ", text)  # durations (offset 5m)
    text = re.sub(r"\b0x[0-9a-fA-F]+\b|\b\d+(\.\d+)?([eE][+-]?\d+)?\b", " ", text)
    metrics = []
    for match in _IDENTIFIER.finditer(text):
        name = match.group(0)
        called = text[match.end() :].lstrip().startswith("(")
        if called:
            if name not in _FUNCTIONS and name not in _AGGREGATIONS:
                problems.append(f"unknown function {name}()")
        elif name.lower() in _KEYWORDS:
            continue
        elif name in KNOWN_METRICS:
            metrics.append(name)
        else:
            problems.append(f"unknown metric {name} (not exported by daprd)")
    return metrics


def _label_problems(expr: str, metrics: list[str]) -> list[str]:
    """Labels in matchers and by/without lists that the query's metrics do not carry."""
    known = metric_labels()
    allowed: set[str] = set(SCRAPE_LABELS)
    for name in metrics:
        labels = known[name]
        if labels is None:
            return []  # a metric whose labels depend on the Configuration: cannot tell
        allowed |= labels
    problems = []
    bare = _STRING.sub('""', expr)
    for selector in _SELECTOR.finditer(bare):
        for matcher in _MATCHER.finditer(selector.group(2)):
            if matcher.group(1) != "__name__" and matcher.group(1) not in allowed:
                problems.append(f"label {matcher.group(1)!r} is not on {', '.join(metrics)}")
    for grouping in _GROUPING.finditer(bare):
        if grouping.group(1) in ("group_left", "group_right"):
            continue
        for label in (part.strip() for part in grouping.group(2).split(",")):
            if label and label not in allowed:
                problems.append(f"label {label!r} is not on {', '.join(metrics)}")
    return problems


def _uses(value: Any, datasource: str) -> bool:
    if isinstance(value, str):
        return value == datasource
    if isinstance(value, dict):
        return value.get("uid") == datasource.lower() or value.get("name") == datasource
    return False


def check_dashboard(path: Path, datasource: str = DATASOURCE) -> list[str]:
    """Problems of one dashboard file: JSON, panel data sources, and every query."""
    try:
        dashboard = load_dashboard(path)
    except (OSError, ValueError) as err:
        return [f"not a JSON dashboard: {err}"]
    problems = []
    for key in ("uid", "title", "panels"):
        if key not in dashboard:
            problems.append(f"dashboard has no {key!r}")
    seen_ids: set[int] = set()
    query_count = 0
    for panel in iter_panels(dashboard):
        where = f"panel {panel.get('id')} {panel.get('title', '')!r}"
        if panel.get("id") in seen_ids:
            problems.append(f"{where}: id used twice")
        seen_ids.add(panel.get("id", -1))
        if panel.get("type") == "row":
            continue
        if not _uses(panel.get("datasource"), datasource):
            problems.append(f"{where}: data source is not {datasource!r}")
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"{where}: no query")
        for target in targets:
            query_count += 1
            if "datasource" in target and not _uses(target["datasource"], datasource):
                problems.append(f"{where} {target.get('refId')}: data source is not {datasource!r}")
            problems.extend(
                f"{where} {target.get('refId')}: {problem}"
                for problem in promql_problems(target.get("expr", ""))
            )
    if query_count == 0:
        problems.append("dashboard has no queries")
    return problems
