"""Deliberately broken variants of the system under test.

The suite's own tests run e2e checks against each variant and expect them to go red:
a check that stays green against a broken service proves nothing. Each module here
builds a service-1 app with exactly one defect; config-metrics-off.yaml is a sidecar
Configuration with metrics disabled, featurebus-unscoped.yaml the feature component
without its publishing and subscription scopes.
"""
