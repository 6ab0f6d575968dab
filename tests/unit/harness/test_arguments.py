"""The shared argparse pieces: a bad flag is one line and exit code 2."""

from __future__ import annotations

import argparse
import importlib

import pytest

from harness.arguments import (
    OPTION_ERROR_EXIT,
    bounded_int,
    command_failed,
    one_line_parser,
    run_command,
)
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


def test_a_command_without_arguments_refuses_one_before_it_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = []

    def body() -> str:
        started.append(True)
        return "built"

    with pytest.raises(SystemExit) as exited:
        run_command(body, "python -m harness.tool", "builds the tool", ["--jsno"])
    assert (exited.value.code, started) == (2, [])
    assert capsys.readouterr().err == "error: unrecognized arguments: --jsno\n"
    assert run_command(body, "python -m harness.tool", "builds the tool", []) == 0
    assert capsys.readouterr().out == "built\n"


def test_help_of_a_command_without_arguments_is_its_doc(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        run_command(lambda: "", "python -m harness.tool", "Builds the tool.", ["--help"])
    assert exited.value.code == 0
    assert "Builds the tool." in capsys.readouterr().out


# module, bad arguments, the one line, what the command would start (never reached)
ENTRY_POINTS = [
    ("harness.cli", [], "error: the following arguments are required: command", "StackSettings"),
    ("harness.cli", ["logs", "-n", "x"], "error: argument -n/--lines: 'x' is not a whole number",
     "StackSettings"),
    ("harness.images", ["--jsno"], "error: unrecognized arguments: --jsno", "build_all"),
    ("harness.jaeger", ["--version"], "error: unrecognized arguments: --version", "ensure_jaeger"),
    ("harness.kafka_jars", ["4.1.1"], "error: unrecognized arguments: 4.1.1", "ensure_kafka_jars"),
    ("harness.kube_apiserver", ["up"], "error: unrecognized arguments: up", "KubeApiserver"),
    ("harness.faults.toxiproxy", ["-v"], "error: unrecognized arguments: -v", "ensure_toxiproxy"),
    ("harness.faults.__main__", ["--bogus"], "error: unrecognized arguments: --bogus",
     "require_local_target"),
    ("loadtests.noop_grpc", [], "error: the following arguments are required: port", "serve"),
    ("loadtests.noop_grpc", ["80"], "error: argument port: 80 is not in 1024..65535", "serve"),
    ("loadtests.bench_ledger", ["--dir", "/nonexistent"],
     "error: argument --dir: '/nonexistent' is not a folder", "Ledger"),
]  # fmt: skip


@pytest.mark.parametrize(("module", "argv", "message", "starter"), ENTRY_POINTS)
def test_every_entry_point_refuses_bad_arguments_in_one_line_before_it_starts(
    module: str,
    argv: list[str],
    message: str,
    starter: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    command = importlib.import_module(module)
    monkeypatch.setattr(command, starter, lambda *a, **k: pytest.fail(f"{starter} was reached"))
    with pytest.raises(SystemExit) as exited:
        command.main(argv)
    assert exited.value.code == OPTION_ERROR_EXIT
    assert capsys.readouterr().err == message + "\n"
