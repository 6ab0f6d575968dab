"""`python -m harness up|down|status|logs|bench`: the local stack from the command line."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

from harness.arguments import bounded_int, one_line_parser
from harness.errors import HarnessError
from harness.local_stack import LocalStack
from harness.ports import is_port_free
from harness.processes import group_alive, tail
from harness.progress import say
from harness.settings import StackSettings
from harness.supervisor import running_state, spawn, supervise, terminate

COMPONENTS = ("redis", "prometheus", "service-1", "service-2", "daprd-service-1", "daprd-service-2")


def cmd_up(settings: StackSettings, args: argparse.Namespace) -> int:
    state = running_state(settings)
    if state:
        print(
            f"the local stack is already running (supervisor pid {state.supervisor_pid}); "
            "nothing changed. Use `python -m harness down` first.",
            file=sys.stderr,
        )
        return 1
    started = time.monotonic()
    LocalStack(settings).preflight()
    say("harness", f"starting the stack (its log: {settings.run_dir / 'supervisor.log'})")
    state = spawn(settings, timeout=settings.ready_timeout_seconds + 10)
    print(f"local stack ready in {time.monotonic() - started:.2f} s")
    _print_endpoints(settings)
    return 0


def _print_endpoints(settings: StackSettings) -> None:
    s = settings
    print(f"  service-1     {s.url(s.service1_port)}   (daprd http {s.sidecar1.http}, "
          f"metrics {s.url(s.sidecar1.metrics)}/metrics)")  # fmt: skip
    print(f"  service-2     {s.url(s.service2_port)}   (daprd http {s.sidecar2.http}, "
          f"metrics {s.url(s.sidecar2.metrics)}/metrics)")  # fmt: skip
    print(f"  prometheus    {s.url(s.prometheus_port)}")
    print(f"  redis         {s.host}:{s.redis_port}")
    if s.jaeger:
        print(f"  jaeger UI     {s.url(s.jaeger_query_port)}")
    print(f"  logs          {s.run_dir / 'logs'}")


def cmd_down(settings: StackSettings, args: argparse.Namespace) -> int:
    started = time.monotonic()
    if not terminate(settings):
        print("no local stack started by `up` is running; nothing to stop")
        return 0
    print(f"local stack stopped in {time.monotonic() - started:.2f} s")
    return 0


def cmd_status(settings: StackSettings, args: argparse.Namespace) -> int:
    state = running_state(settings)
    if state is None:
        print("local stack: not running")
        return 1
    print(f"local stack: {state.status} (supervisor pid {state.supervisor_pid})")
    ports = settings.ports()
    all_up = True
    for name in COMPONENTS:
        pid = (state.components or {}).get(name)
        port = ports.get(name) or ports[f"{name} http"]  # a sidecar: its HTTP API port
        up = bool(pid and group_alive(pid) and not is_port_free(port, settings.host))
        all_up = all_up and up
        print(f"  {'up  ' if up else 'DOWN'} {name:16} pid {pid or '-':>7}  port {port}")
    jaeger_pid = (state.components or {}).get("jaeger")
    if jaeger_pid:
        up = group_alive(jaeger_pid) and not is_port_free(settings.jaeger_query_port, settings.host)
        all_up = all_up and up
        print(f"  {'up  ' if up else 'DOWN'} {'jaeger':16} pid {jaeger_pid:>7}  "
              f"UI {settings.url(settings.jaeger_query_port)}")  # fmt: skip
    return 0 if all_up else 1


def cmd_logs(settings: StackSettings, args: argparse.Namespace) -> int:
    names = [args.component] if args.component else list(COMPONENTS)
    for name in names:
        path = settings.run_dir / "logs" / f"{name}.log"
        if not path.exists():
            print(f"no log for {name} at {path}", file=sys.stderr)
            continue
        if len(names) > 1:
            print(f"==> {name} ({path}) <==")
        print(tail(path, args.lines), end="")
    return 0


def cmd_bench(settings: StackSettings, args: argparse.Namespace) -> int:
    """Time `up` to all-ready and `down` to all-gone, several rounds, and print both."""
    if running_state(settings):
        raise HarnessError("stop the running local stack first (python -m harness down)")
    ups, downs = [], []
    for round_ in range(1, args.rounds + 1):
        stack = LocalStack(settings, quiet=True)
        stack.start()
        stack.stop()
        busy = [p for p in settings.ports().values() if not is_port_free(p, settings.host)]
        if busy:
            raise HarnessError(f"ports still bound after down: {busy}")
        ups.append(stack.timings["up"])
        downs.append(stack.timings["down"])
        print(f"round {round_}: up {ups[-1]:.2f} s, down {downs[-1]:.2f} s", flush=True)
    print(f"up to all-ready: median {statistics.median(ups):.2f} s, max {max(ups):.2f} s "
          f"(target 5 s)")  # fmt: skip
    print(f"down:            median {statistics.median(downs):.2f} s, max {max(downs):.2f} s "
          f"(target 2 s)")  # fmt: skip
    return 0


def cmd_supervise(settings: StackSettings, args: argparse.Namespace) -> int:
    return supervise()


def build_parser() -> argparse.ArgumentParser:
    parser = one_line_parser("python -m harness", __doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the local stack in the background; return when ready")
    sub.add_parser("down", help="stop what `up` started")
    sub.add_parser("status", help="show each component")
    logs = sub.add_parser("logs", help="print the tail of the logs")
    logs.add_argument("component", nargs="?", choices=COMPONENTS)
    logs.add_argument("-n", "--lines", type=bounded_int(1, 100_000), default=40)
    bench = sub.add_parser("bench", help="time up and down (daprd must be installed)")
    bench.add_argument("--rounds", type=int, default=3, choices=range(1, 21), metavar="1..20")
    sub.add_parser("_supervise", help=argparse.SUPPRESS)
    return parser


COMMANDS: dict[str, Callable[[StackSettings, argparse.Namespace], int]] = {
    "up": cmd_up,
    "down": cmd_down,
    "status": cmd_status,
    "logs": cmd_logs,
    "bench": cmd_bench,
    "_supervise": cmd_supervise,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = StackSettings.from_env()
        return COMMANDS[args.command](settings, args)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `python -m harness status | head`: the reader left early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
