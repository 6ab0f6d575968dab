"""The catalogue of daprd's metric families and their labels: the one list the suite trusts.

Read from Dapr's source (`pkg/diagnostics`, release v1.18) and checked against it by
tests/k3d/test_dashboard.py. The dashboard checks, the named counters of harness.metrics and
the load summary all take metric names from here, so a name spelled wrong fails in one place.

Standard library only: the offline dashboard checks import it without the test extras.
"""

from __future__ import annotations

# The families the suite's own checks read (the rest are listed for the dashboard).
PUBSUB_EGRESS = "dapr_component_pubsub_egress_count"
PUBSUB_INGRESS = "dapr_component_pubsub_ingress_count"
HTTP_SERVER_REQUESTS = "dapr_http_server_request_count"
INVOCATION_REQ_SENT = "dapr_runtime_service_invocation_req_sent_total"
INVOCATION_REQ_RECV = "dapr_runtime_service_invocation_req_recv_total"

_PUBSUB_EGRESS = frozenset({"app_id", "component", "namespace", "success", "topic"})
_PUBSUB_INGRESS = frozenset(
    {"app_id", "component", "namespace", "process_status", "status", "topic"}
)
_BULK_INGRESS = frozenset({"app_id", "component", "namespace", "process_status", "topic"})
_COMPONENT_OP = frozenset({"app_id", "component", "namespace", "operation", "success"})
_RESILIENCY = frozenset(
    {"app_id", "name", "policy", "namespace", "flow_direction", "target", "status"}
)

# Metric family -> its labels (None: they depend on the Configuration, not checked).
# Counters keep their name as exported; histograms get _bucket, _sum and _count. Only
# measures with a registered view are exported (pubsub_egress/bulk/event_count has none).
COUNTERS: dict[str, frozenset[str] | None] = {
    PUBSUB_EGRESS: _PUBSUB_EGRESS,
    "dapr_component_pubsub_egress_bulk_count": _PUBSUB_EGRESS,
    PUBSUB_INGRESS: _PUBSUB_INGRESS,
    "dapr_component_pubsub_ingress_bulk_count": _BULK_INGRESS,
    "dapr_component_pubsub_ingress_bulk_event_count": _BULK_INGRESS,
    "dapr_component_state_count": _COMPONENT_OP,
    INVOCATION_REQ_SENT: frozenset({"app_id", "dst_app_id", "type"}),
    INVOCATION_REQ_RECV: frozenset({"app_id", "src_app_id"}),
    "dapr_runtime_service_invocation_res_sent_total": frozenset({"app_id", "dst_app_id", "status"}),
    "dapr_runtime_service_invocation_res_recv_total": frozenset(
        {"app_id", "src_app_id", "status", "type"}
    ),
    "dapr_resiliency_loaded": frozenset({"app_id", "name", "namespace"}),
    "dapr_resiliency_count": _RESILIENCY,
    "dapr_resiliency_activations_total": _RESILIENCY,
    "dapr_resiliency_cb_state": _RESILIENCY,
    "dapr_runtime_component_loaded": frozenset({"app_id"}),
    "dapr_runtime_component_init_total": frozenset({"app_id", "component"}),
    "dapr_runtime_component_init_fail_total": frozenset(
        {"app_id", "component", "reason", "componentName"}
    ),
    "dapr_error_code_total": frozenset({"app_id", "error_code", "category"}),
    HTTP_SERVER_REQUESTS: None,
    "dapr_http_server_response_count": None,
    "dapr_http_client_completed_count": None,
    "dapr_http_healthprobes_completed_count": frozenset({"app_id", "status"}),
}
HISTOGRAMS: dict[str, frozenset[str] | None] = {
    "dapr_component_pubsub_egress_latencies": _PUBSUB_EGRESS,
    "dapr_component_pubsub_egress_bulk_latencies": _PUBSUB_EGRESS,
    "dapr_component_pubsub_ingress_latencies": _PUBSUB_INGRESS,
    "dapr_component_pubsub_ingress_bulk_latencies": _BULK_INGRESS,
    "dapr_component_state_latencies": _COMPONENT_OP,
    "dapr_runtime_service_invocation_res_recv_latency_ms": frozenset(
        {"app_id", "src_app_id", "status"}
    ),
    "dapr_http_server_latency": None,
    "dapr_http_server_request_bytes": None,
    "dapr_http_server_response_bytes": None,
    "dapr_http_client_roundtrip_latency": None,
    "dapr_http_client_sent_bytes": None,
    "dapr_http_client_received_bytes": None,
    "dapr_http_healthprobes_roundtrip_latency": frozenset({"app_id", "status"}),
}
# Labels Prometheus adds when it scrapes a sidecar through its <app-id>-dapr Service.
SCRAPE_LABELS = frozenset({"job", "instance", "namespace", "service", "node", "pod"})


def metric_labels() -> dict[str, frozenset[str] | None]:
    """Every series name daprd exports, with the labels it carries."""
    names: dict[str, frozenset[str] | None] = dict(COUNTERS)
    for family, labels in HISTOGRAMS.items():
        names[f"{family}_bucket"] = None if labels is None else labels | {"le"}
        names[f"{family}_sum"] = labels
        names[f"{family}_count"] = labels
    return names


KNOWN_METRICS = frozenset(metric_labels())


def labels_of(metric: str) -> frozenset[str] | None:
    """The labels a series carries (None: they depend on the Configuration); KeyError if daprd
    exports no such series."""
    return metric_labels()[metric]
