"""The catalogue of daprd's metric families (checked against Dapr's source in tests/k3d)."""

from __future__ import annotations

import pytest

from harness import dapr_catalogue as catalogue


def test_histograms_are_known_by_their_series_names():
    family = "dapr_component_pubsub_ingress_latencies"
    assert catalogue.labels_of(f"{family}_bucket") == catalogue.HISTOGRAMS[family] | {"le"}
    assert catalogue.labels_of(f"{family}_count") == catalogue.HISTOGRAMS[family]
    assert family not in catalogue.KNOWN_METRICS


def test_the_suites_own_families_are_in_the_catalogue():
    for name in (
        catalogue.PUBSUB_EGRESS,
        catalogue.PUBSUB_INGRESS,
        catalogue.HTTP_SERVER_REQUESTS,
        catalogue.INVOCATION_REQ_SENT,
        catalogue.INVOCATION_REQ_RECV,
    ):
        assert name in catalogue.COUNTERS


def test_an_unknown_series_is_a_key_error():
    with pytest.raises(KeyError):
        catalogue.labels_of("dapr_pubsub_ingress_total")
