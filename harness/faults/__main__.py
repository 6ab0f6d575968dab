"""`python -m harness.faults [NAME ...]`: run fault scenarios and print the verdict table.

On the broker HARNESS_BROKER selects (Redis when unset), the scenarios that apply to it
(all of them unless named). The pytest checks (`tox -e faults`) assert what each scenario
must show; this command only runs them and writes results/faults-<timestamp>/, for looking
at Dapr by hand.
"""

from __future__ import annotations

import os
import sys

from harness.arguments import one_line_parser
from harness.errors import HarnessError
from harness.faults.report import results_dir, table_lines, write_results
from harness.faults.runner import run_scenario
from harness.faults.scenarios import BY_NAME, require_local_target, selected, selected_broker


def main(argv: list[str] | None = None) -> int:
    parser = one_line_parser("python -m harness.faults", __doc__)
    parser.add_argument("names", nargs="*", help=f"scenarios (default all): {', '.join(BY_NAME)}")
    args = parser.parse_args(argv)
    try:
        require_local_target()
        env = dict(os.environ)
        if args.names:
            env["FAULT_SCENARIOS"] = ",".join(args.names)
        scenarios = selected(env)
        broker = selected_broker(env)
        out = results_dir()
        results = []
        for scenario in scenarios:
            print(f"[faults] {broker}: {scenario.name}: {scenario.title}", file=sys.stderr,
                  flush=True)  # fmt: skip
            result = run_scenario(scenario)
            results.append(result)
            print(f"[faults] {result.verdict} ({result.seconds:.1f} s)", file=sys.stderr)
    except HarnessError as exc:  # SettingsError is one
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: every fault healed and every process stopped", file=sys.stderr)
        return 130
    rows = [r.row() for r in results]
    write_results(out, [r.as_dict() for r in results], rows)
    print("\n".join(table_lines(rows)))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
