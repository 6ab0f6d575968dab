"""`python -m loadtests.broker_comparison`: the brokers behind Dapr side by side.

For each broker (HARNESS_BROKER), one after another on the same ports: the e2e gate, the
fault scenarios that apply to it (`pytest e2e/faults -m faults`: each scenario's verdict and
whether it showed what docs/fault-semantics.md says for that broker; `--no-faults` skips
them), then a rate search (loadtests.rate_search) on a stack of its own. Writes
comparison.md, an HTML page (both with the fault verdicts side by side) and chart.png
(end-to-end latency and consumed rate against the offered rate, one line per broker) to
results/brokers-<timestamp>/, each broker's own results in a folder beside them.

    python -m loadtests.broker_comparison --brokers redis,nats,kafka --step-seconds 10
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.arguments import OPTION_ERROR_EXIT, command_failed, one_line_parser
from harness.brokers import BROKER_NAMES, BROKERS
from harness.errors import HarnessError
from harness.faults.scenarios import require_local_target, selected
from harness.faults.stack import FaultProfile, profile_from_env
from harness.results import require_makeable, results_folder
from harness.settings import REPO_ROOT, StackSettings
from loadtests.rate_search import Limits, Step

GATE_LIMIT_SECONDS = 600.0
FAULTS_LIMIT_SECONDS = 900.0
SEARCH_LIMIT_SECONDS = 1800.0
VERDICT = ("lost", "duplicated", "unexpected", "recovered")  # the fault table's cells


@dataclass(frozen=True)
class FaultVerdict:
    """One fault scenario on one broker: the verdict's counts and whether the broker's
    documented expectations held."""

    scenario: str
    as_documented: bool
    counts: dict[str, int]

    def cell(self) -> str:
        figures = " / ".join(str(self.counts.get(key, 0)) for key in VERDICT)
        return f"{'ok' if self.as_documented else 'FAILED'}: {figures}"


@dataclass(frozen=True)
class BrokerResult:
    broker: str
    component: str
    gate: str  # pytest's last line: "40 passed in 61.2s"
    gate_ok: bool
    knee: Step | None
    steps: tuple[Step, ...]
    seconds: float
    faults: tuple[FaultVerdict, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.gate_ok and all(f.as_documented for f in self.faults)


Runner = Callable[[list[str], dict[str, str], float], subprocess.CompletedProcess[str]]


def run_child(
    argv: list[str], env: dict[str, str], limit: float
) -> subprocess.CompletedProcess[str]:
    """A child in its own session, its output shown as it comes (the user sees progress)."""
    child = subprocess.Popen(  # our own command lines
        argv, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    lines: list[str] = []
    assert child.stdout is not None
    deadline = time.monotonic() + limit
    for line in child.stdout:
        lines.append(line)
        if line.startswith(("[rate-search]", "knee:", "error:", "FAILED")) or " passed" in line:
            print(f"  {line.rstrip()}", flush=True)
        if time.monotonic() > deadline:
            child.kill()
            raise HarnessError(f"{' '.join(argv[1:4])} took longer than {limit:g} s")
    code = child.wait()
    return subprocess.CompletedProcess(argv, code, "".join(lines), "")


def compare_one(
    broker: str, out: Path, search_args: Sequence[str], run: Runner, faults: bool = True
) -> BrokerResult:
    started = time.monotonic()
    env = {"HARNESS_BROKER": broker, "E2E_REPORT_DIR": str(out / broker / "e2e")}
    gate = run([sys.executable, "-m", "pytest", "e2e", "-q", "-p", "no:cacheprovider"], env,
               GATE_LIMIT_SECONDS)  # fmt: skip
    _keep(out / broker / "gate.log", gate.stdout)
    verdicts = run_faults(broker, out / broker / "faults", run) if faults else ()
    search_dir = out / broker / "rate-search"
    search = run([sys.executable, "-m", "loadtests.rate_search", "--results-dir", str(search_dir),
                  *search_args], env, SEARCH_LIMIT_SECONDS)  # fmt: skip
    _keep(out / broker / "rate-search.log", search.stdout)
    if search.returncode != 0:
        raise HarnessError(
            f"{broker}: the rate search failed: {_last_line(search.stdout)} "
            f"(its output: {out / broker / 'rate-search.log'})"
        )
    found = json.loads((search_dir / "steps.json").read_text())
    steps = tuple(Step(**s) for s in found["steps"])
    return BrokerResult(
        broker, BROKERS[broker].component_type, _gate_line(gate.stdout), gate.returncode == 0,
        Step(**found["knee"]) if found["knee"] else None, steps, time.monotonic() - started,
        verdicts,
    )  # fmt: skip


def run_faults(broker: str, folder: Path, run: Runner) -> tuple[FaultVerdict, ...]:
    """The broker's fault scenarios, asserted: their verdicts from the run's summary.json,
    each marked by whether its check passed."""
    env = {"HARNESS_BROKER": broker, "FAULTS_RESULTS_DIR": str(folder)}
    argv = [sys.executable, "-m", "pytest", "e2e/faults", "-m", "faults", "-q", "-rfE",
            "-p", "no:cacheprovider"]  # fmt: skip
    checks = run(argv, env, FAULTS_LIMIT_SECONDS)
    _keep(folder / "faults.log", checks.stdout)
    summary = folder / "summary.json"
    if not summary.is_file():
        raise HarnessError(
            f"{broker}: the fault scenarios wrote no verdicts: {_last_line(checks.stdout)} "
            f"(their output: {folder / 'faults.log'})"
        )
    failed = set(re.findall(r"^FAILED \S+::test_scenario\[([\w-]+)\]", checks.stdout, re.M))
    scenarios: list[dict[str, Any]] = json.loads(summary.read_text())["scenarios"]
    return tuple(
        FaultVerdict(s["scenario"], s["scenario"] not in failed, s["verdict"]["counts"])
        for s in scenarios
    )


def _keep(path: Path, output: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(output)


def _gate_line(output: str) -> str:
    found = re.findall(r"^=*\s*(\d+ (?:passed|failed|error).*?)\s*=*$", output, re.MULTILINE)
    return found[-1] if found else _last_line(output)


def _last_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def table(results: Sequence[BrokerResult]) -> list[list[str]]:
    rows = [["broker", "component", "e2e gate", "faults as documented", "knee msgs/s",
             "e2e p50 ms at knee", "e2e p99 ms at knee", "steps", "minutes"]]  # fmt: skip
    for r in results:
        k = r.knee
        held = sum(f.as_documented for f in r.faults)
        rows.append([
            r.broker, r.component, ("ok: " if r.gate_ok else "FAILED: ") + r.gate,
            f"{held} of {len(r.faults)}" if r.faults else "-",
            f"{k.offered:g}" if k else "below the first step",
            str(k.e2e_p50_ms) if k else "-", str(k.e2e_p99_ms) if k else "-",
            str(len(r.steps)), f"{r.seconds / 60:.1f}",
        ])  # fmt: skip
    return rows


def fault_table(results: Sequence[BrokerResult]) -> list[list[str]]:
    """One row per fault scenario, one column per broker: "ok: lost / duplicated /
    unexpected / recovered" (FAILED where the broker's expectations did not hold)."""
    scenarios = list(dict.fromkeys(f.scenario for r in results for f in r.faults))
    rows = [["scenario", *(r.broker for r in results)]]
    for name in scenarios:
        by_broker = [{f.scenario: f.cell() for f in r.faults}.get(name, "-") for r in results]
        rows.append([name, *by_broker])
    return rows


FAULTS_NOTE = ("Fault scenarios (docs/fault-semantics.md), per broker: whether the broker "
               "showed what the document says, then lost / duplicated / unexpected / "
               "recovered messages; - where the scenario does not apply.")  # fmt: skip


def _markdown_table(rows: list[list[str]]) -> str:
    lines = [f"| {' | '.join(rows[0])} |", "|" + " --- |" * len(rows[0])]
    lines += [f"| {' | '.join(row)} |" for row in rows[1:]]
    return "\n".join(lines)


def markdown(rows: list[list[str]], note: str, faults: list[list[str]] | None = None) -> str:
    text = "# Brokers behind Dapr\n\n" + note + "\n\n" + _markdown_table(rows) + "\n"
    if faults and len(faults) > 1:
        text += "\n## Faults\n\n" + FAULTS_NOTE + "\n\n" + _markdown_table(faults) + "\n"
    return text


def _html_table(rows: list[list[str]]) -> str:
    def cells(row: list[str], tag: str) -> str:
        return "".join(f"<{tag}>{html.escape(cell)}</{tag}>" for cell in row)

    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows[1:])
    return f"<table><tr>{cells(rows[0], 'th')}</tr>{body}</table>"


def html_page(rows: list[list[str]], note: str, faults: list[list[str]] | None = None) -> str:
    fault_part = ""
    if faults and len(faults) > 1:
        fault_part = f"<h2>Faults</h2><p>{html.escape(FAULTS_NOTE)}</p>{_html_table(faults)}"
    return (
        "<!doctype html><meta charset='utf-8'><title>Brokers behind Dapr</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;"
        "padding:4px 8px}table{border-collapse:collapse}</style>"
        f"<h1>Brokers behind Dapr</h1><p>{html.escape(note)}</p>{_html_table(rows)}"
        f"{fault_part}"
        "<p><img src='chart.png' alt='latency and consumed rate against offered rate'></p>"
    )


def write(out: Path, results: Sequence[BrokerResult], limits: Limits) -> None:
    from loadtests.chart import draw_rate_chart  # matplotlib: only when a chart is drawn

    note = (f"Each broker: the e2e gate, then a rate search (sustained: kept up within 5%, "
            f"lost 0, backlog under 1 s of traffic, p99 e2e under {limits.p99_e2e_ms:g} ms); "
            f"{time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores.")  # fmt: skip
    rows, faults = table(results), fault_table(results)
    (out / "comparison.md").write_text(markdown(rows, note, faults))
    (out / "comparison.html").write_text(html_page(rows, note, faults))
    draw_rate_chart({r.broker: list(r.steps) for r in results}, limits.p99_e2e_ms,
                    out / "chart.png")  # fmt: skip


def build_arguments() -> argparse.ArgumentParser:
    parser = one_line_parser("python -m loadtests.broker_comparison", __doc__)
    parser.add_argument("--brokers", default=",".join(BROKER_NAMES), help="comma-separated")
    parser.add_argument("--start", default="50", help="the rate search's first rate")
    parser.add_argument("--max-rate", default="1600")
    parser.add_argument("--step-seconds", default="15")
    parser.add_argument("--max-steps", default="8")
    parser.add_argument("--p99-e2e-ms", type=float, default=1000.0)
    parser.add_argument("--results-dir", type=Path, default=None)
    parser.add_argument("--no-faults", action="store_true", help="skip the fault scenarios")
    return parser


def chosen(raw: str) -> list[str]:
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in BROKER_NAMES]
    if unknown or not names:
        raise HarnessError(f"--brokers {raw!r}: choose among {', '.join(BROKER_NAMES)}")
    return list(dict.fromkeys(names))


def main(argv: list[str] | None = None, run: Runner = run_child) -> int:
    args = build_arguments().parse_args(argv)
    search_args = ["--start", args.start, "--max-rate", args.max_rate, "--step-seconds",
                   args.step_seconds, "--max-steps", args.max_steps, "--p99-e2e-ms",
                   f"{args.p99_e2e_ms:g}"]  # fmt: skip
    try:
        brokers = chosen(args.brokers)
        _check_search_args(search_args)
        check_every_broker(brokers, faults=not args.no_faults)
        out = require_makeable(results_folder(args.results_dir, "brokers"))
    except HarnessError as err:
        print(f"error: {err}", file=sys.stderr)
        return OPTION_ERROR_EXIT
    out.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for index, broker in enumerate(brokers, 1):
            steps = "e2e gate, rate search" if args.no_faults else "e2e gate, faults, rate search"
            print(f"[brokers] {index}/{len(brokers)} {broker}: {steps}", flush=True)
            results.append(compare_one(broker, out, search_args, run, not args.no_faults))
    except (HarnessError, KeyboardInterrupt) as err:
        return command_failed(err)
    finally:
        if results:
            write(out, results, Limits(p99_e2e_ms=args.p99_e2e_ms))
    print((out / "comparison.md").read_text())
    print(f"results: {out}")
    return 0 if all(r.ok for r in results) else 1


def check_every_broker(
    brokers: Sequence[str], faults: bool, env: dict[str, str] | None = None
) -> None:
    """Each broker's stack settings and fault scenarios, before the first broker runs: a bad
    HARNESS_* setting or a scenario of FAULT_SCENARIOS that a later broker lacks would
    otherwise stop the comparison hours in."""
    for broker in brokers:
        with_broker = {**(os.environ if env is None else env), "HARNESS_BROKER": broker}
        StackSettings.from_env(with_broker)
        if faults:
            require_local_target(with_broker)
            profile_from_env(FaultProfile(), with_broker)
            selected(with_broker)


def _check_search_args(search_args: list[str]) -> None:
    """The rate search's own checks, before any stack starts."""
    from loadtests.rate_search import build_arguments as search_arguments
    from loadtests.rate_search import checked

    checked(search_arguments().parse_args(search_args))


if __name__ == "__main__":
    sys.exit(main())
