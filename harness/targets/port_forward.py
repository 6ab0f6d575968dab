"""A port of a pod on 127.0.0.1, relayed through the Kubernetes API as `kubectl port-forward`
does: each connection accepted here gets a port-forward stream of its own (the kubernetes
package's `portforward`), so nothing in the cluster has to be published on a node port.

The Kubernetes target uses it for daprd's HTTP API, which the k3d manifests keep inside the
pod. The listener and its relays are threads of this process; `close()` ends them all.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Callable
from typing import Any

from harness.errors import HarnessError
from harness.wait import poll

HOST = "127.0.0.1"
CHUNK = 65536
POLL_SECONDS = 0.2  # how often the threads look whether they were closed

# Opens one stream to the pod's port: its socket, and what holds the stream's websocket
# (the kubernetes package's PortForward; None for a plain socket in the unit tests).
OpenStream = Callable[[], tuple[Any, Any]]
PROXY_THREAD = "Kubernetes port forward proxy"  # the kubernetes package's name for its threads


class PortForward:
    def __init__(self, open_stream: OpenStream, what: str) -> None:
        self.open_stream = open_stream
        self.what = what
        self.listener = socket.create_server((HOST, 0))
        self.listener.settimeout(POLL_SECONDS)
        self.port: int = self.listener.getsockname()[1]
        self.closed = threading.Event()
        self.relays: list[threading.Thread] = []
        self.holders: list[Any] = []  # closed last: see close()
        self.accepting = threading.Thread(target=self._accept, name=f"forward {what}", daemon=True)
        self.accepting.start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def close(self) -> None:
        """Stop accepting, end every relay, then close each stream's websocket: the
        kubernetes package leaves it open when the pod's side ended first (an unclosed TLS
        socket otherwise), and closing it is safe only once its proxy thread is gone."""
        self.closed.set()
        self.accepting.join(timeout=2)
        self.listener.close()
        for relay in self.relays:
            relay.join(timeout=2)
        poll(_proxy_threads, lambda n: n == 0, timeout=2, interval=0.05, on_timeout="return")
        for holder in self.holders:
            close_websocket(holder.websocket)

    def __enter__(self) -> PortForward:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                local, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the listener was closed
            relay = threading.Thread(target=self._relay, args=(local,), daemon=True)
            self.relays = [r for r in self.relays if r.is_alive()] + [relay]
            relay.start()

    def _relay(self, local: socket.socket) -> None:
        with contextlib.closing(local):
            try:
                remote, holder = self.open_stream()
            except Exception:  # noqa: BLE001 - the client sees its connection closed
                return
            if holder is not None:
                self.holders.append(holder)
            with contextlib.closing(remote):
                pump(local, remote, self.closed)


def close_websocket(websocket: Any) -> None:
    """Close a websocket-client WebSocket and its socket: its close() returns at once, the
    socket left open, when the connection already counts as ended (the peer closed it)."""
    with contextlib.suppress(Exception):
        websocket.close()
    websocket.shutdown()


def _proxy_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith(PROXY_THREAD))


def pump(a: Any, b: Any, closed: threading.Event) -> None:
    """Copy bytes both ways until either side ends or `closed` is set."""
    peers = {a.fileno(): (a, b), b.fileno(): (b, a)}
    while not closed.is_set():
        ready, _, _ = select.select(list(peers), [], [], POLL_SECONDS)
        for fileno in ready:
            source, sink = peers[fileno]
            try:
                data = source.recv(CHUNK)
            except OSError:
                return
            if not data:
                return
            sink.sendall(data)


def pod_port_forward(api_client: Any, namespace: str, pod: str, port: int) -> PortForward:
    """A PortForward to `port` of `pod`; one line naming the pod when the API refuses."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    from kubernetes.stream import portforward

    core = client.CoreV1Api(api_client)

    def open_stream() -> tuple[Any, Any]:
        forward = portforward(core.connect_get_namespaced_pod_portforward, pod, namespace,
                              ports=str(port))  # fmt: skip
        return forward.socket(port), forward

    try:
        probe, holder = open_stream()  # the API allows it and the pod answers: fail here
        probe.close()
        poll(_proxy_threads, lambda n: n == 0, timeout=2, interval=0.05, on_timeout="return")
        close_websocket(holder.websocket)
    except ApiException as err:
        raise HarnessError(f"port-forward to {namespace}/{pod}:{port} refused: HTTP "
                           f"{err.status} {err.reason}") from None  # fmt: skip
    except Exception as err:  # noqa: BLE001 - the websocket's own errors, named in one line
        raise HarnessError(f"port-forward to {namespace}/{pod}:{port} failed: {err}") from None
    return PortForward(open_stream, f"{namespace}/{pod}:{port}")
