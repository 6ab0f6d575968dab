"""One trace from publish to delivery to invocation, as a user sees it in Jaeger.

The trace id service-1 saw at publish is looked up in Jaeger's API: the spans both sidecars
exported must be in that one trace. This proves that Dapr exports the spans (not only that it
passes the traceparent header along) and that the trace can be found where a user looks.
"""

from __future__ import annotations

import pytest

from harness.jaeger import trace_services
from harness.ledger import new_run_id
from harness.wait import poll

pytestmark = pytest.mark.e2e

# service -> operations (span names as Dapr 1.18 writes them) that the one trace must hold
EXPECTED = {
    "service-1": {
        "/v1.0/publish/messagebus/t1",  # the publish through service-1's sidecar
        "pubsub/t1",  # the delivery to service-1's t1 route
        "CallLocal/service-2/t1",  # the invocation it makes
    },
    "service-2": {"CallLocal/service-2/t1"},  # the invocation as service-2's sidecar took it
}


def missing_spans(services: dict[str, list[str]]) -> dict[str, list[str]]:
    """Expected span names not in the trace. Case is ignored: Zipkin's model writes span
    names in lower case (the k3d Configuration exports to Jaeger's Zipkin receiver, which
    stores `calllocal/service-2/t1`), OTLP keeps Dapr's own spelling."""

    def lacking(service: str) -> set[str]:
        seen = {name.lower() for name in services.get(service, [])}
        return {name for name in EXPECTED[service] if name.lower() not in seen}

    return {service: sorted(lacking(service)) for service in EXPECTED if lacking(service)}


def test_one_trace_in_jaeger_holds_both_sidecars_spans(target, suite):
    jaeger = getattr(target, "jaeger_url", None)
    if not jaeger:
        pytest.fail(
            "this target runs no Jaeger: let the e2e session start its own stack, or start "
            "one with `HARNESS_JAEGER=1 python -m harness up`",
            pytrace=False,
        )
    run = new_run_id("trace")
    trace_id = suite.publish_ok("t1", run, 1)["traceparent"].split("-")[1]
    suite.ledger.wait_for(run, lambda records: any(r["handled_at"] for r in records))
    seen = poll(
        lambda: trace_services(jaeger, trace_id),
        lambda services: not missing_spans(services),
        timeout=30,
        interval=0.5,
        on_timeout="return",  # the assertion names what is missing
    )
    assert not missing_spans(seen), (
        f"trace {trace_id} at {jaeger} lacks {missing_spans(seen)}; it holds {seen}"
    )
