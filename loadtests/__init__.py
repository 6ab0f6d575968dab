"""Locust publish load on service-1, end-to-end delivery latency from its ledger, benchmarks."""
