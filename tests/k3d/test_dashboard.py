"""Our pub/sub dashboard: its queries, the PromQL checks, and the metric table vs Dapr's source."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.dapr_catalogue import COUNTERS, HISTOGRAMS
from k3d.dashboard import (
    DASHBOARD_PATH,
    check_dashboard,
    dashboard_queries,
    fill_variables,
    iter_panels,
    load_dashboard,
    promql_problems,
)
from k3d.validate.validator import Validator

pytestmark = pytest.mark.k3d


def test_queries_are_ready_for_prometheus() -> None:
    queries = dashboard_queries(rate_interval="30s", range_="10m")
    targets = sum(len(p.get("targets", [])) for p in iter_panels(load_dashboard()))
    assert len(queries) == targets >= 10
    for query in queries:
        assert "$" not in query.promql, query
        assert query.panel_title and query.ref_id
        assert promql_problems(query.promql) == []
    assert any("[30s]" in q.promql for q in queries)
    assert any("[10m]" in q.promql for q in queries)


def test_dashboard_covers_what_the_issue_asks_for() -> None:
    exprs = "\n".join(q.expr for q in dashboard_queries())
    for needed in (
        "dapr_component_pubsub_egress_count",
        "dapr_component_pubsub_ingress_count",
        "dapr_component_pubsub_ingress_latencies_bucket",
        "dapr_runtime_service_invocation_req_sent_total",
        "dapr_runtime_service_invocation_res_recv_latency_ms_bucket",
        "dapr_resiliency_count",
        'process_status=~"retry|drop"',
        "histogram_quantile(0.95",
    ):
        assert needed in exprs
    egress = [q.expr for q in dashboard_queries() if "egress_count[" in q.expr]
    assert any("topic" in e and "success" in e for e in egress)


def test_committed_dashboard_passes() -> None:
    assert check_dashboard(DASHBOARD_PATH) == []


def test_fill_variables() -> None:
    assert fill_variables("rate(x[$__rate_interval])", "15s") == "rate(x[15s])"
    assert fill_variables("increase(x[${__range}])", range_="1h") == "increase(x[1h])"


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("", "empty query"),
        ("sum(rate(dapr_component_pubsub_ingress_count[1m])", "unclosed '('"),
        ("rate(dapr_component_pubsub_ingress_count[1m]))", "unbalanced ')'"),
        ("rate(dapr_component_pubsub_ingress_count[1m]])", "unbalanced ']'"),
        ('rate(dapr_component_pubsub_ingress_count{topic="t1"[1m])', "unbalanced ')'"),
        ("rate(dapr_pubsub_ingress_total[1m])", "unknown metric dapr_pubsub_ingress_total"),
        ("rate(up[1m])", "unknown metric up"),
        ("rat(dapr_component_pubsub_ingress_count[1m])", "unknown function rat()"),
        ("rate(dapr_component_pubsub_egress_count[$app])", "unknown Grafana variable"),
        (
            "sum by (process_status) (rate(dapr_component_pubsub_egress_count[1m]))",
            "label 'process_status' is not on",
        ),
        (
            'rate(dapr_component_pubsub_ingress_count{success="true"}[1m])',
            "label 'success' is not on",
        ),
        (
            "histogram_quantile(0.9, "
            "sum(rate(dapr_component_pubsub_ingress_latencies_bucket[1m])))",
            "needs 'le' kept",
        ),
        (
            "histogram_quantile(0.95, sum by (le) (rate(dapr_component_pubsub_ingress_count[1m])))",
            "not a _bucket",
        ),
        ("1 + 1", "names no metric"),
    ],
)
def test_bad_queries_are_caught(expr: str, problem: str) -> None:
    assert any(problem in found for found in promql_problems(expr)), promql_problems(expr)


@pytest.mark.parametrize(
    "expr",
    [
        'sum(rate(dapr_component_pubsub_ingress_count{topic="a(b"}[1m]))',
        "sum(rate(dapr_resiliency_count[5m] offset 1m)) by (policy) / 2e3",
        "dapr_runtime_service_invocation_req_sent_total / on (app_id) group_left "
        "dapr_runtime_service_invocation_res_recv_total",
        "sum by (le, instance) (rate(dapr_http_server_latency_bucket[1m]))",
        'rate(dapr_http_server_request_count{path="/v1.0/publish"}[1m])',
    ],
)
def test_good_queries_pass(expr: str) -> None:
    assert promql_problems(expr) == []


def test_check_dashboard_reports_panels(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"uid": "x", "title": "x", "panels": [{"id": 1, "type": "timeseries", "title": "a",'
        ' "datasource": "Prometheus", "targets": [{"refId": "A", "expr": "rate(nope[1m])"}]},'
        ' {"id": 1, "type": "stat", "title": "b", "datasource": "Dapr", "targets": []}]}'
    )
    found = "\n".join(check_dashboard(bad))
    assert "panel 1 'a': data source is not 'Dapr'" in found
    assert "unknown metric nope" in found
    assert "id used twice" in found
    assert "panel 1 'b': no query" in found
    (tmp_path / "broken.json").write_text("{")
    assert "not a JSON dashboard" in check_dashboard(tmp_path / "broken.json")[0]


# --- the metric table against Dapr's source ---

_MEASURE = re.compile(r"(\w+):\s*stats\.(?:Int64|Float64)\(\s*\"([^\"]+)\"")
# NewMeasureView(m.field, []tag.Key{a, b} or a variable, aggregation)
_VIEW = re.compile(
    r"NewMeasureView\(\s*\w+\.(\w+),\s*(?:\[\]tag\.Key\{([^}]*)\}|\w+),\s*([\w.]+(?:\(\))?)"
)
_TAG_KEY = re.compile(r"(\w+)\s*=\s*tag\.MustNewKey\(\"([^\"]+)\"\)")


def dapr_exported_metrics(module_dir: Path) -> dict[str, tuple[str, frozenset[str] | None]]:
    """Series family -> (aggregation, labels) as daprd registers them (pkg/diagnostics)."""
    sources = [
        path.read_text(encoding="utf-8")
        for path in sorted((module_dir / "pkg" / "diagnostics").glob("*.go"))
        if not path.name.endswith("_test.go")
    ]
    tag_names = dict(_TAG_KEY.findall("\n".join(sources)))
    exported: dict[str, tuple[str, frozenset[str] | None]] = {}
    for source in sources:
        measures = dict(_MEASURE.findall(source))
        for measure in measures.values():
            exported["dapr_" + measure.replace("/", "_")] = ("unknown", None)
        for field, keys, aggregation in _VIEW.findall(source):
            if field not in measures:
                continue
            labels = (
                frozenset(tag_names[key.strip()] for key in keys.split(",") if key.strip())
                if keys
                else None  # the tag list is a variable: it depends on the Configuration
            )
            kind = {"view.Count()": "count", "view.LastValue()": "gauge"}.get(
                aggregation, "histogram"
            )
            exported["dapr_" + measures[field].replace("/", "_")] = (kind, labels)
    return exported


@pytest.fixture(scope="module")
def exported(validator: Validator) -> dict[str, tuple[str, frozenset[str] | None]]:
    found = dapr_exported_metrics(validator.dapr_module_dir)
    assert len(found) > 50, "pkg/diagnostics no longer looks as this parser expects"
    return found


def test_every_counter_is_exported_by_daprd(exported) -> None:
    for family, labels in COUNTERS.items():
        assert family in exported, f"{family} is not in Dapr's source"
        kind, source_labels = exported[family]
        assert kind in ("count", "gauge"), f"{family}: a measure without a view is not exported"
        assert labels is None or source_labels == labels, family


def test_every_histogram_is_exported_by_daprd(exported) -> None:
    for family, labels in HISTOGRAMS.items():
        assert family in exported, f"{family} is not in Dapr's source"
        kind, source_labels = exported[family]
        assert kind == "histogram", f"{family}: {kind}"
        assert labels is None or source_labels == labels, family
