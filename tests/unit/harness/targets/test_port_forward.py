"""The port-forward relay, with a local echo server standing in for the pod's port."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from harness.targets.port_forward import PortForward, close_websocket


@pytest.fixture
def echo() -> Iterator[tuple[str, int]]:
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                while data := conn.recv(1024):
                    conn.sendall(data.upper())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()
    stop.set()
    thread.join(timeout=5)
    server.close()


def test_each_connection_is_relayed_both_ways(echo: tuple[str, int]) -> None:
    with PortForward(lambda: (socket.create_connection(echo), None), "pod:1") as forward:
        for word in (b"first", b"second"):
            with socket.create_connection(("127.0.0.1", forward.port), timeout=5) as client:
                client.sendall(word)
                assert client.recv(1024) == word.upper()
        assert forward.url == f"http://127.0.0.1:{forward.port}"


def test_a_stream_that_cannot_open_closes_the_clients_connection() -> None:
    def refuse() -> tuple[socket.socket, None]:
        raise OSError("the pod is gone")

    with (
        PortForward(refuse, "pod:1") as forward,
        socket.create_connection(("127.0.0.1", forward.port), timeout=5) as client,
    ):
        assert client.recv(1024) == b""


def test_after_close_nothing_listens(echo: tuple[str, int]) -> None:
    forward = PortForward(lambda: (socket.create_connection(echo), None), "pod:1")
    forward.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", forward.port), timeout=2)


class EndedWebSocket:
    """A websocket-client WebSocket whose peer already ended: close() does nothing."""

    def __init__(self) -> None:
        self.connected = False
        self.socket_open = True

    def close(self) -> None:
        if not self.connected:
            return

    def shutdown(self) -> None:
        self.socket_open = False


def test_a_websocket_the_peer_ended_still_has_its_socket_closed() -> None:
    websocket = EndedWebSocket()
    close_websocket(websocket)
    assert not websocket.socket_open
