"""A real single-node Kubernetes cluster on this machine, built from upstream parts.

etcd and kube-apiserver come from harness.kube_apiserver; kube-controller-manager,
kube-scheduler and kubelet are built at the same release (harness.kube_builds); the
container runtime is Debian's containerd and runc with a config, root, state and socket
of its own under the run directory; pods sit on a bridge of this machine (Debian's CNI
plugins), with no route off it. Images reach containerd from the Docker Engine
(`docker save | ctr import`), the sandbox ("pause") image included: no registry is needed.

`python -m harness.cluster up|down|status` runs it in the background; `Cluster` is the
same thing as a context manager.
"""
