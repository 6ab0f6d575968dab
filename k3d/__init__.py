"""The k3d target: cluster scripts, manifests, dashboards and their offline checks."""
