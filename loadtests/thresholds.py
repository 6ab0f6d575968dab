"""The CI gate: each threshold compared with the run's figures, and a line for each one."""

from __future__ import annotations

from dataclasses import dataclass

from loadtests.options import Thresholds


@dataclass(frozen=True)
class GateFigures:
    """The figures the gate looks at, taken from the summary."""

    published: int
    failed: int
    p95_publish_ms: float | None
    p95_e2e_ms: float | None
    lost: int

    @property
    def fail_ratio(self) -> float:
        attempts = self.published + self.failed
        return self.failed / attempts if attempts else 0.0


@dataclass(frozen=True)
class Check:
    name: str
    flag: str
    value: float | None
    limit: float
    unit: str = ""
    at_least: bool = False  # the limit is a minimum, not a maximum

    @property
    def ok(self) -> bool:
        if self.value is None:
            return False
        return self.value >= self.limit if self.at_least else self.value <= self.limit

    def line(self) -> str:
        shown = "no data" if self.value is None else f"{self.value:g}{self.unit}"
        verdict = "ok" if self.ok else "BROKEN"
        bound = "min" if self.at_least else "max"
        via = f", {self.flag}" if self.flag else ""
        return f"{verdict:6} {self.name}: {shown} ({bound} {self.limit:g}{self.unit}{via})"

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "flag": self.flag,
            "value": self.value,
            "limit": self.limit,
            "ok": self.ok,
        }


def evaluate(figures: GateFigures, thresholds: Thresholds) -> list[Check]:
    """Every check, broken or not. Without a successful publish there is nothing to judge, so
    the published check breaks, and so do the latency and loss checks (no data)."""
    nothing = figures.published == 0
    return [
        Check("published messages", "", float(figures.published), 1.0, at_least=True),
        Check(
            "fail ratio",
            "--max-fail-ratio",
            round(figures.fail_ratio, 6),
            thresholds.max_fail_ratio,
        ),
        Check(
            "p95 publish latency",
            "--max-p95-publish-ms",
            figures.p95_publish_ms,
            thresholds.max_p95_publish_ms,
            " ms",
        ),
        Check(
            "p95 end-to-end latency",
            "--max-p95-e2e-ms",
            figures.p95_e2e_ms,
            thresholds.max_p95_e2e_ms,
            " ms",
        ),
        Check(
            "lost messages",
            "--max-lost",
            None if nothing else float(figures.lost),
            float(thresholds.max_lost),
        ),
    ]


def broken(checks: list[Check]) -> list[Check]:
    return [check for check in checks if not check.ok]
