"""What the e2e session sent and accounted for, printed once at the end."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.verdict import QueueVerdict


@dataclass
class Scoreboard:
    rows: list[tuple[str, QueueVerdict]] = field(default_factory=list)
    deltas: list[tuple[str, str, float]] = field(default_factory=list)

    def verdict(self, scenario: str, verdict: QueueVerdict) -> None:
        self.rows.append((scenario, verdict))

    def deltas_seen(self, scenario: str, seen: dict[str, float]) -> None:
        """The metric deltas one scenario saw, query -> delta."""
        self.deltas.extend((scenario, query, delta) for query, delta in seen.items())

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
