"""What the fuzz session sent and what came back, per route, printed once at the end."""

from __future__ import annotations

import os
import random
from collections import Counter
from dataclasses import dataclass, field

DELIVERY_ROUTES = ("/t1", "/t2", "/dead-letter/{topic}")
# what daprd posts to on the feature topics (service-1's features/): deliveries too
FEATURE_PUBLISH_ROUTES = ("/features/publish/{topic}", "/features/publish-bulk/{topic}")


def is_delivery_route(path: str) -> bool:
    return path in DELIVERY_ROUTES or (
        path.startswith("/features/") and path not in FEATURE_PUBLISH_ROUTES
    )


def session_seed() -> int:
    """FUZZ_SEED replays a run; without it each run draws a new seed (and prints it)."""
    raw = os.environ.get("FUZZ_SEED", "").strip()
    if not raw:
        return random.SystemRandom().randrange(1 << 32)
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"FUZZ_SEED={raw!r} is not a whole number") from None


@dataclass
class Tally:
    seed: int = field(default_factory=session_seed)
    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    # what may have written to the ledger: accepted deliveries and publishes
    accepted_deliveries: int = 0
    accepted_publishes: int = 0

    def count(self, label: str, status: int) -> None:
        self.cases[label] += 1
        self.statuses[f"{status // 100}xx"] += 1

    def lines(self) -> list[str]:
        out = [f"seed {self.seed} (replay: FUZZ_SEED={self.seed} tox -e fuzz)"]
        out += [f"  {n:>5}  {label}" for label, n in sorted(self.cases.items())]
        total = sum(self.cases.values())
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
        out.append(f"cases {total} ({statuses}); failures {len(self.failures)}")
        out += [f"  FAILED {failure}" for failure in self.failures[:20]]
        return out


TALLY = Tally()
