"""Known differences between Dapr releases, read from docs/version-differences.md.

The document keeps one table; each entry names the rows it explains (scenario and metric,
`*` matches anything), the release that changed them, what changed and the Dapr issue or
release note. A difference in the behaviour table is explained when an entry matches its
row and the change lies between the releases compared: the releases before `since` agree
with each other, those from `since` on agree with each other, and both sides ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from harness.daprd import check_version_string, version_key
from harness.errors import HarnessError
from harness.matrix.table import Difference
from harness.settings import REPO_ROOT

DOCUMENT = REPO_ROOT / "docs" / "version-differences.md"
COLUMNS = ("scenario", "metric", "since", "what", "source")


@dataclass(frozen=True)
class KnownDifference:
    scenario: str  # fnmatch patterns over the table's rows
    metric: str
    since: str  # the first release that behaves the new way
    what: str
    source: str  # the Dapr issue or release note

    def explains(self, difference: Difference) -> bool:
        if not (
            fnmatchcase(difference.scenario, self.scenario)
            and fnmatchcase(difference.metric, self.metric)
        ):
            return False
        boundary = version_key(self.since)
        before = {s for v, s in difference.values.items() if version_key(v) < boundary}
        after = {s for v, s in difference.values.items() if version_key(v) >= boundary}
        return len(before) == 1 and len(after) == 1

    def note(self) -> str:
        return f"since {self.since}: {self.what} ({self.source})"


def read_known(path: Path = DOCUMENT) -> list[KnownDifference]:
    """The entries of the document's table (the one whose header is COLUMNS)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot read {path}: {exc.strerror or exc}") from None
    entries: list[KnownDifference] = []
    in_table = False
    for line in text.splitlines():
        cells = _cells(line)
        if cells is None:
            in_table = False
            continue
        if tuple(c.lower() for c in cells) == COLUMNS:
            in_table = True
        elif in_table and not set("".join(cells)) <= set("-: "):
            if len(cells) != len(COLUMNS):
                raise HarnessError(f"{path.name}: a row of the table has {len(cells)} cells")
            check_version_string(cells[2].strip("`"))  # a `since` that is no release fails
            entries.append(KnownDifference(*(c.strip("`") for c in cells)))
    if not entries:
        raise HarnessError(f"{path.name} has no table with the columns {' | '.join(COLUMNS)}")
    return entries


def _cells(line: str) -> list[str] | None:
    line = line.strip()
    if not line.startswith("|"):
        return None
    return [cell.strip() for cell in line.strip("|").split("|")]


def explanation(difference: Difference, known: Sequence[KnownDifference]) -> KnownDifference | None:
    return next((entry for entry in known if entry.explains(difference)), None)


def notes_and_unexplained(
    differences: Sequence[Difference], known: Sequence[KnownDifference]
) -> tuple[dict[tuple[str, str], str], list[Difference]]:
    """The note of each difference's row, and the differences no entry explains."""
    notes: dict[tuple[str, str], str] = {}
    unexplained: list[Difference] = []
    for difference in differences:
        entry = explanation(difference, known)
        row = (difference.scenario, difference.metric)
        if entry is None:
            unexplained.append(difference)
            notes[row] = "UNEXPLAINED: not in docs/version-differences.md"
        else:
            notes[row] = entry.note()
    return notes, unexplained
