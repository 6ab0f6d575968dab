"""What the e2e session sent and accounted for, printed at the end and kept in the report."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from harness.verdict import QueueVerdict


def current_check() -> str:
    """The test running now (pytest sets PYTEST_CURRENT_TEST), so a row knows its check."""
    return os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]


@dataclass
class Scoreboard:
    rows: list[tuple[str, QueueVerdict]] = field(default_factory=list)
    deltas: list[tuple[str, str, float]] = field(default_factory=list)
    row_checks: list[str] = field(default_factory=list)
    delta_checks: list[str] = field(default_factory=list)
    # scenario -> (topic, sent_at, first_received_at) per delivery, for the report's charts
    timings: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)
    # scenario -> name -> what else a check saw (the app's last answer), for the matrix
    facts: dict[str, dict[str, str]] = field(default_factory=dict)

    def verdict(self, scenario: str, verdict: QueueVerdict) -> None:
        self.rows.append((scenario, verdict))
        self.row_checks.append(current_check())

    def deltas_seen(self, scenario: str, seen: dict[str, float]) -> None:
        """The metric deltas one scenario saw, query -> delta."""
        for query, delta in seen.items():
            self.delta(scenario, query, delta)

    def delta(self, scenario: str, query: str, delta: float) -> None:
        self.deltas.append((scenario, query, delta))
        self.delta_checks.append(current_check())

    def fact(self, scenario: str, name: str, value: str) -> None:
        self.facts.setdefault(scenario, {})[name] = value

    def as_dict(self) -> dict[str, Any]:
        """What the report keeps as scoreboard.json: the version matrix reads it."""
        return {
            "rows": [
                {"scenario": scenario, "check": check, "arrivals": v.arrivals, **v.counts()}
                for (scenario, v), check in zip(self.rows, self.row_checks, strict=True)
            ],
            "deltas": [
                {"scenario": scenario, "query": query, "delta": delta, "check": check}
                for (scenario, query, delta), check in zip(
                    self.deltas, self.delta_checks, strict=True
                )
            ],
            "facts": self.facts,
        }

    def delivery_times(self, scenario: str, records: list[dict[str, Any]]) -> None:
        """Keep when each message was sent and first received (ledger records)."""
        self.timings[scenario] = [
            (str(r["topic"]), float(r["sent_at"]), float(r["first_received_at"]))
            for r in records
            if r.get("sent_at") is not None and r.get("first_received_at") is not None
        ]

    def lines(self) -> list[str]:
        out = [f"{'scenario':32} {'topic':16} {'sent':>6} {'ok':>6} {'lost':>5} {'dup':>5}"]
        sent = accounted = 0
        for scenario, v in self.rows:
            out.append(
                f"{scenario:32} {v.label:16} {v.acknowledged:>6} {len(v.delivered):>6} "
                f"{len(v.lost):>5} {len(v.duplicated):>5}"
            )
            sent += v.acknowledged
            accounted += len(v.delivered)
        out.append(f"messages sent {sent}, accounted for {accounted}")
        if self.deltas:
            out.append("metric deltas seen:")
            out.extend(
                f"  {scenario:28} {delta:>+6g}  {query}" for scenario, query, delta in self.deltas
            )
        return out


# The one scoreboard of an e2e session: the fixtures fill it, the summary and report read it.
SESSION_SCOREBOARD = Scoreboard()
