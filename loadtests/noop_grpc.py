"""A gRPC method that does nothing: the baseline of the gRPC publish benchmark.

Dapr's gRPC perf tests subtract the latency of a no-op gRPC call from that of a publish, so
what remains is what daprd adds. `/noop.Noop/Call` takes any bytes and answers empty bytes,
with no message classes to decode: the call costs HTTP/2 framing and grpc's own work, as a
publish does before daprd looks at it. The server runs in a process of its own on 127.0.0.1,
started and stopped by `serving()` (also on an error or Ctrl-C).

    python -m loadtests.noop_grpc PORT
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc

from harness.arguments import bounded_int, one_line_parser
from harness.processes import ManagedProcess
from loadtests import served_app

METHOD = "/noop.Noop/Call"


def _answer(request: bytes, context: Any) -> bytes:
    return b""


HANDLER = grpc.method_handlers_generic_handler(
    "noop.Noop", {"Call": grpc.unary_unary_rpc_method_handler(_answer)}
)


async def serve(port: int) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((HANDLER,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


@contextmanager
def serving(port: int, log_dir: Path) -> Iterator[ManagedProcess]:
    """The no-op server on 127.0.0.1:`port` until the block ends."""
    argv = [sys.executable, "-m", "loadtests.noop_grpc", str(port)]
    with served_app.serving("noop-grpc", argv, port, log_dir, lambda: answers(port)) as process:
        yield process


def answers(port: int) -> bool:
    options = [("grpc.enable_http_proxy", 0)]  # loopback traffic stays on loopback
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(METHOD)
        try:
            call(b"", timeout=1.0)
        except grpc.RpcError:
            return False
    return True


def main(argv: list[str] | None = None) -> None:
    parser = one_line_parser("python -m loadtests.noop_grpc", __doc__)
    parser.add_argument("port", type=bounded_int(1024, 65535), help="1024..65535, on 127.0.0.1")
    asyncio.run(serve(parser.parse_args(argv).port))


if __name__ == "__main__":
    main()
