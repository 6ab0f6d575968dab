"""The broker comparison, with the children it runs replaced by fakes of our own commands."""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict
from pathlib import Path

import pytest

from loadtests.broker_comparison import main
from loadtests.rate_search import Step


def fake_runner(gate_fails: set[str], fault_fails: set[str] = frozenset()):
    def run(argv: list[str], env: dict[str, str], limit: float):
        broker = env["HARNESS_BROKER"]
        if "e2e/faults" in argv:
            folder = Path(env["FAULTS_RESULTS_DIR"])
            folder.mkdir(parents=True)
            scenarios = [
                {"scenario": name, "verdict": {"counts": {"lost": lost, "duplicated": 2}}}
                for name, lost in (("sidecar-kill", 0), ("network-cut", 3))
            ]
            folder.joinpath("summary.json").write_text(json.dumps({"scenarios": scenarios}))
            failed = broker in fault_fails
            line = (
                "FAILED e2e/faults/test_faults.py::test_scenario[network-cut] - x\n"
                if failed
                else ""
            )
            return subprocess.CompletedProcess(argv, int(failed), f"{line}2 passed\n", "")
        if "pytest" in argv:
            failed = broker in gate_fails
            line = "1 failed, 39 passed in 70.1s" if failed else "40 passed in 61.2s"
            return subprocess.CompletedProcess(argv, int(failed), f"....\n{line}\n", "")
        folder = Path(argv[argv.index("--results-dir") + 1])
        folder.mkdir(parents=True)
        knee = Step(100, 100, 99.5, 0, 0, 0, 3.0, 40.0)
        over = Step(200, 190, 120, 900, 0, 0, 800.0, 5000.0)
        folder.joinpath("steps.json").write_text(json.dumps(
            {"knee": asdict(knee), "steps": [asdict(knee), asdict(over)]}))  # fmt: skip
        return subprocess.CompletedProcess(argv, 0, "knee: 100 msgs/s\n", "")

    return run


def test_each_broker_gets_a_row_and_a_line_in_the_chart(tmp_path: Path, capsys) -> None:
    code = main(["--brokers", "redis,nats", "--results-dir", str(tmp_path)], fake_runner(set()))
    assert code == 0
    table = (tmp_path / "comparison.md").read_text()
    assert (
        "| redis | pubsub.redis | ok: 40 passed in 61.2s | 2 of 2 | 100 | 3.0 | 40.0 | 2 |" in table
    )
    assert "| network-cut | ok: 3 / 2 / 0 / 0 | ok: 3 / 2 / 0 / 0 |" in table
    assert "| nats | pubsub.jetstream |" in table
    assert "<td>pubsub.jetstream</td>" in (tmp_path / "comparison.html").read_text()
    assert (tmp_path / "chart.png").stat().st_size > 1000
    assert "[brokers] 2/2 nats" in capsys.readouterr().out


def test_a_failed_gate_is_shown_and_fails_the_command(tmp_path: Path) -> None:
    code = main(["--brokers", "redis,mqtt", "--results-dir", str(tmp_path)],
                fake_runner({"mqtt"}))  # fmt: skip
    assert code == 1
    assert "FAILED: 1 failed, 39 passed" in (tmp_path / "comparison.md").read_text()


@pytest.mark.parametrize(
    "argv", [["--brokers", "redis,zeromq"], ["--brokers", ","], ["--step-seconds", "1"]]
)
def test_bad_options_are_one_line_and_exit_2(argv: list[str], tmp_path: Path, capsys) -> None:
    code = main([*argv, "--results-dir", str(tmp_path)], fake_runner(set()))
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"HARNESS_PORT_OFFSET": "x"}, "HARNESS_PORT_OFFSET"),
        ({"FAULT_SCENARIOS": "sidecar-kill,broker-restart"}, "not for HARNESS_BROKER=redis"),
        ({"HARNESS_SERVICE1_IMAGE": "dapr-suite/service-1:suite"}, "HARNESS_SERVICE1_IMAGE"),
    ],
)
def test_every_brokers_settings_are_checked_before_the_first_runs(
    env: dict[str, str], says: str, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ran: list[list[str]] = []

    def runner(argv: list[str], env: dict[str, str], limit: float):
        ran.append(argv)
        raise AssertionError("a broker ran")

    code = main(["--brokers", "nats,redis", "--results-dir", str(tmp_path / "out")], runner)
    err = capsys.readouterr().err
    assert (code, ran) == (2, [])
    assert err.startswith("error:") and says in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_a_broker_whose_faults_differ_from_its_document_fails_the_command(tmp_path: Path) -> None:
    code = main(["--brokers", "redis,nats", "--results-dir", str(tmp_path)],
                fake_runner(set(), {"nats"}))  # fmt: skip
    assert code == 1
    table = (tmp_path / "comparison.md").read_text()
    assert "| nats | pubsub.jetstream | ok: 40 passed in 61.2s | 1 of 2 |" in table
    assert "| network-cut | ok: 3 / 2 / 0 / 0 | FAILED: 3 / 2 / 0 / 0 |" in table
    assert "<td>FAILED: 3 / 2 / 0 / 0</td>" in (tmp_path / "comparison.html").read_text()


def test_no_faults_leaves_them_out(tmp_path: Path) -> None:
    code = main(["--brokers", "nats", "--no-faults", "--results-dir", str(tmp_path)],
                fake_runner(set(), {"nats"}))  # fmt: skip
    assert code == 0 and "## Faults" not in (tmp_path / "comparison.md").read_text()
