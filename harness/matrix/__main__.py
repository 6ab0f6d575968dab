"""`python -m harness.matrix`: the version matrix (`tox -e matrix`).

Runs the delivery-semantics checks and the fault scenarios on each release of
DAPR_VERSIONS (default: the oldest release the suite supports and the pinned one), writes
results/matrix-<timestamp>/ (behaviour.md, behaviour.html, observations.json) and fails,
naming it, on each difference between releases that docs/version-differences.md does not
explain, and on each check that failed on a release. `--rejudge DIR` judges the
observations of an earlier run again, against the document as it is now (or --differences).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

from harness.arguments import one_line_parser
from harness.daprd import check_version_string
from harness.errors import HarnessError
from harness.matrix.differences import DOCUMENT, notes_and_unexplained, read_known
from harness.matrix.observations import Observation
from harness.matrix.runner import ReleaseRun, preflight, run_release
from harness.matrix.table import BehaviourTable, html_page, markdown
from harness.results import require_makeable, results_folder
from harness.settings import DEFAULT_DAPR_VERSION

OLDEST_SUPPORTED = "1.16.0"  # the oldest release the Go module proxy serves that builds here
DEFAULT_VERSIONS = f"{OLDEST_SUPPORTED},{DEFAULT_DAPR_VERSION}"
OBSERVATIONS = "observations.json"


def versions_from(raw: str) -> list[str]:
    versions = [check_version_string(v) for v in raw.split(",") if v.strip()]
    if len(set(versions)) < 2:
        raise HarnessError(f"DAPR_VERSIONS={raw!r}: a matrix needs two or more releases")
    return list(dict.fromkeys(versions))


def judge(out: Path, runs: Sequence[ReleaseRun], document: Path) -> tuple[list[str], list[str]]:
    """Write the table; return its summary lines and the failures (one line each)."""
    table = BehaviourTable.of({run.version: run.observations for run in runs})
    differences = table.differences()
    notes, unexplained = notes_and_unexplained(differences, read_known(document))
    summary = [
        *(f"{run.version}: checks and scenarios in {run.seconds:.0f} s" for run in runs),
        f"{len(table.rows())} rows, {len(differences)} differ, "
        f"{len(differences) - len(unexplained)} explained by {document.name}",
    ]
    failures = [f"unexplained difference: {d.describe()}" for d in unexplained]
    failures += [f"check failed: {name}" for run in runs for name in run.failed_checks]
    (out / "behaviour.md").write_text(
        "# Dapr version matrix\n\n" + "".join(f"- {line}\n" for line in summary)
        + "\n" + markdown(table, notes)
    )  # fmt: skip
    (out / "behaviour.html").write_text(html_page(table, notes, summary + failures))
    return summary, failures


def save(out: Path, runs: Sequence[ReleaseRun]) -> None:
    data = [
        {"version": r.version, "seconds": round(r.seconds, 1), "failed_checks": r.failed_checks,
         "observations": [asdict(o) for o in r.observations]}
        for r in runs
    ]  # fmt: skip
    (out / OBSERVATIONS).write_text(json.dumps(data, indent=2))


def load(folder: Path) -> list[ReleaseRun]:
    try:
        data = json.loads((folder / OBSERVATIONS).read_text())
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{folder / OBSERVATIONS} cannot be read: {exc}") from None
    return [
        ReleaseRun(d["version"], [Observation(**o) for o in d["observations"]],
                   d["failed_checks"], d["seconds"])
        for d in data
    ]  # fmt: skip


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    parser = one_line_parser("python -m harness.matrix", __doc__)
    parser.add_argument("--versions", default=env.get("DAPR_VERSIONS") or DEFAULT_VERSIONS)
    parser.add_argument("--rejudge", type=Path, help="a results/matrix-<ts> folder to judge again")
    parser.add_argument("--differences", type=Path, default=DOCUMENT)
    args = parser.parse_args(argv)
    try:
        if args.rejudge:
            out, runs = args.rejudge, load(args.rejudge)
        else:
            versions = versions_from(args.versions)
            read_known(args.differences)  # a broken document stops the run before it starts
            out = require_makeable(results_folder(None, "matrix"))
            preflight(versions, env)
            out.mkdir(parents=True, exist_ok=True)
            runs = [run_release(version, out, env) for version in versions]
            save(out, runs)
        summary, failures = judge(out, runs, args.differences)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: every process the matrix started is stopped", file=sys.stderr)
        return 130
    print("\n".join([*summary, *failures, f"results: {out}"]))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
