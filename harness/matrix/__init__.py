"""The Dapr version matrix: the same semantics and fault checks on several daprd releases,
one behaviour table, and a verdict on every difference (`python -m harness.matrix`)."""
