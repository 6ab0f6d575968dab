"""The fault machinery on real processes: restart and signal a component of a running
stack, refuse faults against what is not running, and leave nothing behind, also when
the run is interrupted with Ctrl-C in the middle of a fault."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.faults.runner import scenario_settings
from harness.faults.stack import FaultProfile, FaultStack, faults_settings
from harness.ports import is_port_free
from harness.processes import default_sigint, pid_alive
from harness.settings import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def referring_to(run_dir: Path) -> list[str]:
    """Processes whose command line, environment or working directory names `run_dir`."""
    found = []
    needle = str(run_dir).encode()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            blobs = [(proc / "cmdline").read_bytes(), (proc / "environ").read_bytes()]
            blobs.append(os.readlink(proc / "cwd").encode())
        except OSError:
            continue
        if int(proc.name) != os.getpid() and any(needle in blob for blob in blobs):
            found.append(f"{proc.name}: {blobs[0][:120]!r}")
    return found


def frozen_daprd(stack_dir: Path) -> bool:
    """A daprd of that stack is stopped by SIGSTOP (state T) right now."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if os.readlink(proc / "cwd") != str(stack_dir):
                continue
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        name, state = stat.split("(", 1)[1].rsplit(")", 1)[0], stat.rsplit(")", 1)[1].split()[0]
        if name == "daprd" and state == "T":
            return True
    return False


def test_a_component_is_signalled_restarted_and_still_stopped_at_the_end(tmp_path):
    settings = faults_settings({"HARNESS_PORT_OFFSET": "2500"}, run_dir=tmp_path / "stack")
    stack = FaultStack(settings, FaultProfile())
    pids = []
    with pytest.raises(RuntimeError, match="a check failed"), stack:
        first = stack.component("service-1").process.pid
        stack.send_signal("service-1", signal.SIGKILL)
        stack.component("service-1").process.popen.wait(5)
        with pytest.raises(HarnessError, match="cannot signal service-1: it is not running"):
            stack.send_signal("service-1", signal.SIGSTOP)
        with pytest.raises(HarnessError, match="no component 'kafka'"):
            stack.restart("kafka")
        stack.restart("service-1")
        second = stack.component("service-1").process.pid
        assert second != first and stack.component("service-1").ready()
        pids = [first, *stack.pids().values()]
        raise RuntimeError("a check failed")  # the stack must still stop everything
    assert not [pid for pid in pids if pid and pid_alive(pid)]
    assert all(is_port_free(port) for port in stack.named_ports().values())
    assert referring_to(settings.run_dir) == []


def test_ctrl_c_in_the_middle_of_a_fault_heals_it_and_leaves_nothing_behind(tmp_path):
    run_dir = tmp_path / "faults"
    env = {**os.environ, "HARNESS_PORT_OFFSET": "2600", "HARNESS_RUN_DIR": str(run_dir)}
    cli = subprocess.Popen(  # Ctrl-C must reach it even when we were started in the background
        [sys.executable, "-m", "harness.faults", "sidecar-freeze"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=default_sigint,  # noqa: PLW1509 - the test starts no threads
    )  # fmt: skip
    stack_dir = scenario_settings("sidecar-freeze", env).run_dir
    deadline = time.monotonic() + 90
    while not frozen_daprd(stack_dir) and time.monotonic() < deadline:
        assert cli.poll() is None, cli.communicate()
        time.sleep(0.1)
    assert frozen_daprd(stack_dir), "the sidecar was never frozen"
    time.sleep(1)  # well inside the 10 s freeze
    cli.send_signal(signal.SIGINT)
    out, err = cli.communicate(timeout=60)
    assert cli.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        "interrupted: every fault healed and every process stopped"
    )
    assert referring_to(run_dir) == []
    settings = faults_settings({"HARNESS_PORT_OFFSET": "2600"}, run_dir=run_dir)
    ports = FaultStack(settings, FaultProfile()).named_ports()
    assert [port for port in ports.values() if not is_port_free(port)] == []
