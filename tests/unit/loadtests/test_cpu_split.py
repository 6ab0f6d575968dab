"""The CPU split: what each process spent per message over one stretch, the generator included."""

from __future__ import annotations

import subprocess
import sys

from loadtests.cpu_split import LOAD_GENERATOR, CpuMeter, describe_split, stack_pids

SPIN = "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass\n"


def test_a_process_that_spins_is_charged_per_message_and_the_idle_one_is_not():
    spin_then_wait = SPIN.format(seconds=0.4) + "print('spun', flush=True)\ntime.sleep(60)\n"
    busy = subprocess.Popen([sys.executable, "-c", spin_then_wait], stdout=subprocess.PIPE)
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        meter = CpuMeter.start({"busy": busy.pid, "idle": idle.pid})
        subprocess.run([sys.executable, "-c", SPIN.format(seconds=0.3)], check=True)
        assert busy.stdout is not None
        assert busy.stdout.readline() == b"spun\n"
        split = meter.split(messages=100)
    finally:
        for child in (busy, idle):
            child.kill()
            child.wait()
        assert busy.stdout is not None
        busy.stdout.close()
    assert split["busy"]["ms_per_msg"] > 1.0  # up to 0.4 s over 100 messages: 4 ms each
    assert split["idle"]["ms_per_msg"] < 1.0
    assert split[LOAD_GENERATOR]["ms_per_msg"] >= 2.5  # the waited-for child's 0.3 s


def test_no_messages_no_split():
    assert CpuMeter.start({}).split(messages=0) == {}


def test_the_line_puts_service_1_against_its_sidecar():
    split = {
        "service-1": {"ms_per_msg": 6.0, "cores": 0.3},
        "daprd-service-1": {"ms_per_msg": 4.0, "cores": 0.2},
    }
    line = describe_split(split)
    assert line == "CPU ms/msg: service-1 6, daprd-service-1 4; service-1/daprd-service-1 1.50"


def test_a_target_that_cannot_name_its_processes_has_none():
    assert stack_pids(object()) == {}
