"""Child processes that cannot outlive the harness.

Each child runs in its own process group (so `killpg` also ends anything it forks) and
gets SIGKILL from the kernel when the thread that started it dies, which covers a harness
killed with SIGKILL, where no Python cleanup can run.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from harness.wait import poll

PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL("libc.so.6", use_errno=True)  # loaded here: the child only calls it


def _die_with_parent(parent: int) -> None:
    """Runs in the child between fork and exec."""
    os.setsid()
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def default_sigint() -> None:
    """In a child, between fork and exec: a shell that started us in the background makes us
    ignore SIGINT, and a child would inherit that; one that must stop on Ctrl-C gets it back."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def tail(path: Path, lines: int = 40) -> str:
    try:
        with path.open("r", errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines))
    except FileNotFoundError:
        return ""


# A fatal line of a Go program logging with logrus' text format (daprd, Dapr's control plane)
_FATAL = re.compile(r'level=fatal msg="((?:[^"\\]|\\.)*)"')


def fatal_message(log_text: str) -> str | None:
    """The message of the last `level=fatal` line: why daprd gave up, in its own words."""
    found = _FATAL.findall(log_text)
    return found[-1].replace('\\"', '"') if found else None


def pid_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie waiting to be reaped counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces); [] once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return stat.rsplit(")", 1)[1].split()


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system, every thread) used so far by `pid` and its live descendants.

    Read from /proc, so it can be sampled while the processes run: what a benchmark needs to
    charge a load generator for the CPU of one stretch of its run, start-up left out.
    """
    return trees_cpu_seconds({"": pid})[""]


def trees_cpu_seconds(roots: Mapping[str, int]) -> dict[str, float]:
    """`tree_cpu_seconds` of several processes by name, from one pass over /proc (a pass
    costs milliseconds, so a sampler of a whole stack reads it once, not once per process)."""
    return {name: usage.cpu_seconds for name, usage in trees_usage(roots).items()}


@dataclass(frozen=True)
class TreeUsage:
    """What a process and its live descendants use: CPU seconds so far and memory now."""

    cpu_seconds: float
    rss_bytes: int


def trees_usage(roots: Mapping[str, int]) -> dict[str, TreeUsage]:
    """The usage of several process trees by name, from one pass over /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))):
            parents[int(entry.name)] = int(fields[1])  # field 4 of stat: the parent's pid
    children: dict[int, list[int]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    return {name: _usage_of_tree(pid, children) for name, pid in roots.items()}


def _usage_of_tree(pid: int, children: Mapping[int, list[int]]) -> TreeUsage:
    tree, frontier = {pid}, [pid]
    while frontier:
        below = children.get(frontier.pop(), [])
        tree.update(below)
        frontier += below
    ticks = pages = 0
    for member in tree:
        fields = _stat_fields(member)
        if fields:
            ticks += int(fields[11]) + int(fields[12])  # utime and stime (fields 14, 15)
            pages += int(fields[21])  # resident set size in pages (field 24)
    return TreeUsage(ticks / _CLOCK_TICKS, pages * _PAGE_BYTES)


def group_alive(pgid: int) -> bool:
    """True while a live (not zombie) process is in the group.

    Zombies count as gone: an orphan's zombie waits for PID 1 to reap it, and in a
    container whose PID 1 never reaps, it would otherwise look alive forever.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return any(state != "Z" for state in _group_states(pgid))


def _group_states(pgid: int) -> list[str]:
    states = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            states.append(fields[0])
    return states


def stop_group(pgid: int, grace: float = 3.0) -> None:
    """SIGTERM the group, then SIGKILL what is left after `grace` seconds."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if poll(lambda: not group_alive(pgid), timeout=grace, interval=0.02, on_timeout="return"):
        return
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return


def stop_all(processes: list[ManagedProcess], grace: float = 3.0) -> None:
    """SIGTERM every group at once, then SIGKILL what is still there after `grace` s."""
    for process in processes:
        process.signal_group(signal.SIGTERM)
    poll(
        lambda: all(p.gone() for p in processes),
        timeout=grace,
        interval=0.01,
        on_timeout="return",
    )
    for process in processes:
        if not process.gone():
            process.signal_group(signal.SIGKILL)
            if process.popen is not None:
                process.popen.wait()


@dataclass
class ManagedProcess:
    """One component of the stack: its command, environment and log file."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict, repr=False)  # may carry tokens
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] | None = None
    log_start: int = 0  # where the latest start's output begins: the log is appended to

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.log_start = log.tell()
            self.popen = subprocess.Popen(  # argv is built by the harness
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                cwd=self.cwd,
                preexec_fn=partial(_die_with_parent, os.getpid()),  # noqa: PLW1509 - PDEATHSIG
            )

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def exit_code(self) -> int | None:
        return self.popen.poll() if self.popen else None

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal_group(self, signum: int) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signum)

    def gone(self) -> bool:
        """True once the child is reaped and nothing else is left in its group."""
        if self.popen is None:
            return True
        return self.popen.poll() is not None and not group_alive(self.popen.pid)

    def stop(self, grace: float = 3.0) -> None:
        stop_all([self], grace)

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.log_path, lines)

    def log_since_start(self) -> str:
        """What the process wrote since its latest start."""
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(self.log_start)
                return handle.read().decode(errors="replace")
        except FileNotFoundError:
            return ""
