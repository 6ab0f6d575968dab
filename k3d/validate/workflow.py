"""The GitHub workflow: pinned actions, time limits, shellchecked run blocks, teardown."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from k3d.validate.report import one_line
from k3d.validate.shell_scripts import shellcheck
from k3d.validate.yaml_files import load_yaml

_PINNED_ACTION = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})$")


def _workflow_triggers(workflow: Mapping[Any, Any]) -> Any:
    # YAML 1.1 (PyYAML) reads the key `on` as the boolean True.
    return workflow.get("on", workflow.get(True))


def check_workflow(path: Path) -> list[str]:
    try:
        workflow = load_yaml(path)
    except (OSError, yaml.YAMLError) as err:
        return [f"not YAML: {one_line(err)}"]
    if not isinstance(workflow, dict):
        return ["not a mapping"]
    problems = []
    if not _workflow_triggers(workflow):
        problems.append("no 'on' triggers")
    jobs = workflow.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        return [*problems, "no jobs"]
    runs: list[tuple[str, dict[str, Any]]] = []
    for job_name, job in jobs.items():
        if not isinstance(job, dict) or "runs-on" not in job:
            problems.append(f"job {job_name}: no runs-on")
            continue
        if not job.get("timeout-minutes"):
            problems.append(f"job {job_name}: set timeout-minutes (a stuck cluster waits 6 h)")
        for index, step in enumerate(job.get("steps") or []):
            where = (
                f"job {job_name} step {index + 1} ({step.get('name') or step.get('uses') or 'run'})"
            )
            uses = step.get("uses")
            if uses and not _PINNED_ACTION.match(uses):
                problems.append(f"{where}: action {uses!r} is not pinned to vX.Y.Z or a commit")
            if "run" in step:
                runs.append((where, step))
                problems += [f"{where}: {p}" for p in _run_block_problems(step["run"])]
            problems += _artifact_problems(where, step)
    problems += required_commands(runs)
    return problems


def _run_block_problems(script: str) -> list[str]:
    """shellcheck a run block the way the runner executes it (bash -e)."""
    body = re.sub(r"\$\{\{[^}]*\}\}", "EXPR", script)  # GitHub expressions
    result = subprocess.run(
        [shellcheck(), "--format=gcc", "--shell=bash", "-"],
        input="set -e\n" + body,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return [f"shellcheck: {line.split(': ', 1)[-1]}" for line in result.stdout.splitlines() if line]


def _artifact_problems(where: str, step: Mapping[str, Any]) -> list[str]:
    problems = []
    uses = str(step.get("uses", ""))
    run = str(step.get("run", ""))
    always = str(step.get("if", "")).replace(" ", "") == "always()"
    if uses.startswith("actions/upload-artifact@") and not always:
        problems.append(f"{where}: artifacts must be uploaded with if: always()")
    if ("k3d/down.sh" in run or "kubectl logs" in run) and not always:
        problems.append(f"{where}: must run with if: always()")
    return problems


def required_commands(runs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    def with_env(step: dict[str, Any]) -> str:
        env = " ".join(f"{key}={value}" for key, value in (step.get("env") or {}).items())
        return f"{env} {step['run']}"

    text = "\n".join(with_env(step) for _, step in runs)
    needed = {
        "k3d/up.sh": r"(^|\s)(\./)?k3d/up\.sh\b",
        "E2E_TARGET=k3d tox -e e2e": r"E2E_TARGET=k3d\b[^\n]*\btox -e e2e\b",
        "E2E_TARGET=k3d tox -e load": r"E2E_TARGET=k3d\b[^\n]*\btox -e load\b",
        "kubectl logs -c daprd": r"kubectl\b[^\n]*\blogs\b[^\n]*-c daprd\b",
        "k3d/down.sh": r"(^|\s)(\./)?k3d/down\.sh\b",
    }
    return [
        f"no step runs {command!r}"
        for command, pattern in needed.items()
        if not re.search(pattern, text, flags=re.M)
    ]
