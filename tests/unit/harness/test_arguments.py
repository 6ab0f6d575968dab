"""The shared argparse pieces: a bad flag is one line and exit code 2."""

from __future__ import annotations

import argparse

import pytest

from harness.arguments import OPTION_ERROR_EXIT, bounded_int, command_failed, one_line_parser
from harness.errors import HarnessError


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("5", 5), (" 7 ", 7)])
def test_a_bounded_int_inside_its_bounds(text: str, value: int) -> None:
    assert bounded_int(1, 7)(text) == value


@pytest.mark.parametrize(
    ("text", "why"), [("0", "0 is not in 1..7"), ("8", "8 is not in 1..7"), ("x", "whole number")]
)
def test_a_bounded_int_outside_its_bounds(text: str, why: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=why):
        bounded_int(1, 7)(text)


def test_a_bad_flag_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    parser = one_line_parser("prog", "why the program exists", {"--count": (1, 10, 3)})
    assert parser.parse_args([]).count == 3
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["--count", "11"])
    assert exited.value.code == OPTION_ERROR_EXIT == 2
    assert capsys.readouterr().err == "error: argument --count: 11 is not in 1..10\n"


def test_a_failed_command_says_why_in_one_line_and_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert command_failed(HarnessError("the stack did not start")) == 1
    assert capsys.readouterr().err == "error: the stack did not start\n"


def test_an_interrupted_command_exits_130(capsys: pytest.CaptureFixture[str]) -> None:
    assert command_failed(KeyboardInterrupt()) == 130
    assert capsys.readouterr().err == "interrupted\n"
