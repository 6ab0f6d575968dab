"""The command line of the checks: one line per file, exit 1 when one fails."""

from __future__ import annotations

from pathlib import Path

from harness.arguments import one_line_parser
from harness.settings import REPO_ROOT
from k3d.validate import __doc__ as PACKAGE_DOC
from k3d.validate.validator import validate


def main(argv: list[str] | None = None) -> int:
    parser = one_line_parser("python -m k3d.validate", PACKAGE_DOC)
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root")
    args = parser.parse_args(argv)
    reports = validate(args.root)
    for report in reports:
        print(report.line(args.root))
    failed = sum(not report.ok for report in reports)
    print(f"{len(reports) - failed} passed, {failed} failed")
    return 1 if failed else 0
