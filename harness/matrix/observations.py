"""What one release showed, as (scenario, metric) observations for the behaviour table.

Each observation keeps what a reader sees (`shown`) and what is compared between releases
(`compared`). A delivery check sends one message, so its counts are compared exactly; a
fault scenario runs under load, where how many messages a fault catches varies from run to
run, so its counts are compared as none / some, and its times not at all. Duplicates are
compared only where the scenario causes them by design (service-2 down, a slow handler):
after a kill or a stop, a duplicate needs a message in flight at that very moment, so one
release shows none in one run and some in the next.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SEMANTICS_METRICS = ("attempts", "lost", "duplicated", "dead_lettered")
FAULT_COUNTS = ("lost", "duplicated", "dead_lettered")
FAULT_SHOWN = ("recovered", "unexpected")
NOT_COMPARED = "(shown only)"
FAULT_COUNTERS = ("retry", "drop")  # Dapr's ingress counters on the scenario's topic


@dataclass(frozen=True)
class Observation:
    scenario: str
    metric: str
    shown: str
    compared: str

    @property
    def key(self) -> tuple[str, str]:
        return self.scenario, self.metric


def exact(scenario: str, metric: str, value: Any) -> Observation:
    text = _text(value)
    return Observation(scenario, metric, text, text)


def none_or_some(scenario: str, metric: str, value: float) -> Observation:
    return Observation(scenario, metric, _text(value), "some" if value else "none")


def shown_only(scenario: str, metric: str, value: Any) -> Observation:
    return Observation(scenario, metric, _text(value), NOT_COMPARED)


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def from_scoreboard(profile: str, board: Mapping[str, Any]) -> list[Observation]:
    """A semantics run's scoreboard.json: counts, the app's last answer and metric deltas
    per case, and each check's outcome (a failed check is a behaviour too)."""
    found: list[Observation] = []
    for row in board.get("rows", []):
        scenario = f"semantics ({profile}): {row['scenario']}"
        duplicated = max(0, row["arrivals"] - row["delivered"])
        values = {"attempts": row["arrivals"], "lost": row["lost"],
                  "duplicated": duplicated, "dead_lettered": row["dead_lettered"]}  # fmt: skip
        found += [exact(scenario, metric, values[metric]) for metric in SEMANTICS_METRICS]
    for scenario, facts in board.get("facts", {}).items():
        found += [
            exact(f"semantics ({profile}): {scenario}", name, value)
            for name, value in facts.items()
        ]
    for delta in board.get("deltas", []):
        scenario = f"semantics ({profile}): {delta['scenario']}"
        found.append(exact(scenario, f"Δ {delta['query']}", delta["delta"]))
    for check, outcome in board.get("checks", {}).items():
        found.append(exact(f"check ({profile})", check.split("::", 1)[-1], outcome))
    return found


def from_fault_summaries(summaries: Iterable[Mapping[str, Any]]) -> list[Observation]:
    """A fault run's summaries (harness.faults.runner.ScenarioResult.as_dict)."""
    found: list[Observation] = []
    for summary in summaries:
        scenario = f"faults: {summary['scenario']}"
        counts = summary["verdict"]["counts"]
        for name in FAULT_COUNTS:
            by_chance = name == "duplicated" and not summary.get("duplicates_by_design", False)
            judge = shown_only if by_chance else none_or_some
            found.append(judge(scenario, name, counts[name]))
        found += [shown_only(scenario, name, counts[name]) for name in FAULT_SHOWN]
        counters = summary["counters"]
        for status in FAULT_COUNTERS:
            found.append(none_or_some(scenario, f"Δ ingress {status}", counters["ingress"][status]))
            found.append(
                none_or_some(
                    scenario, f"Δ dead-letter ingress {status}",
                    counters["dead_letter_ingress"][status],
                )
            )  # fmt: skip
    return found
