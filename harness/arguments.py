"""argparse pieces every command line of the suite shares: bad input is one line and exit 2."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NoReturn

# Exit code of a command line refused before anything started (argparse's own code).
OPTION_ERROR_EXIT = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag gives one line and exit code 2 (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(OPTION_ERROR_EXIT)


def one_line_parser(
    prog: str, doc: str | None, whole_numbers: Mapping[str, tuple[int, int, int]] | None = None
) -> OneLineParser:
    """A OneLineParser whose --help shows the module's docstring as written, with the
    whole-number flags {flag: (lowest, highest, default)}."""
    parser = OneLineParser(
        prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for flag, (low, high, default) in (whole_numbers or {}).items():
        parser.add_argument(
            flag, type=bounded_int(low, high), default=default, help=f"{low}..{high}"
        )
    return parser


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in low..high."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not in {low}..{high}")
        return value

    return parse


def existing_folder(text: str) -> Path:
    """An argparse type: a folder that exists and can be written."""
    folder = Path(text)
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text!r} cannot be written")
    return folder


def command_failed(err: BaseException) -> int:
    """The exit code of a command that did not finish, its reason said in one line:
    130 after Ctrl-C, 1 for a failure (a HarnessError, an HTTP error)."""
    if isinstance(err, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        return 130
    print(f"error: {err}", file=sys.stderr)
    return 1


def run_command(
    body: Callable[[], str],
    prog: str | None = None,
    doc: str | None = None,
    argv: list[str] | None = None,
) -> int:
    """A `python -m harness.<tool>` entry point: print what `body` answers and exit 0, or
    print a HarnessError as one line and exit 2. Given `prog`, the command takes no
    arguments: `--help` shows `doc`, anything else is refused before `body` starts."""
    from harness.errors import HarnessError  # the daprd installer runs on the stdlib only

    if prog:
        one_line_parser(prog, doc).parse_args(sys.argv[1:] if argv is None else argv)
    try:
        print(body())
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return OPTION_ERROR_EXIT
    return 0
