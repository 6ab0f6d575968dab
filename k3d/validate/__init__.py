"""Offline checks of everything under k3d/: run `python -m k3d.validate`.

Nothing here needs Docker or a cluster. Each file is checked against the real schema of
what will read it, one module per kind of file:
- `manifests`: Kubernetes manifests against the Kubernetes version of the pinned k3s image
  (kubernetes-validate, strict: unknown fields fail, as `kubectl apply` does);
- `dapr_resources`: Dapr resources against the CRDs of the pinned Dapr release, read from the
  Dapr Go module (`go mod download github.com/dapr/dapr@vX`), unknown fields failing too;
- `cluster_config`: cluster.yaml against k3d's JSON schema from the k3d Go module;
- `shell_scripts` (shellcheck), `workflow` (the GitHub workflow), `helm_values`, and
  k3d/dashboard.py for the dashboard, with our own rules;
- `consistency`: the host ports against the NodePorts they reach, and names across files.
`validator.Validator` walks the files and sends each to its check; `__main__` is the command.

Prints one line per file, `ok` or `FAIL` with the problems, and exits 1 on any failure.
Environment: DAPR_VERSION (default: harness.settings), DAPR_MODULE_DIR and K3D_MODULE_DIR
(use an unpacked module instead of the Go module cache).
"""
