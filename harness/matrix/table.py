"""The behaviour table: rows are (scenario, metric), columns are Dapr releases, and every
row whose compared values are not the same on all releases is a difference."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from harness.daprd import version_key
from harness.matrix.observations import Observation

MISSING = "—"  # the release did not show this row (the check did not get that far)
MARK = "⚠"


@dataclass(frozen=True)
class Difference:
    scenario: str
    metric: str
    values: Mapping[str, str]  # version -> shown value

    def describe(self) -> str:
        seen = ", ".join(f"{v}: {shown}" for v, shown in self.values.items())
        return f"{self.scenario} / {self.metric} ({seen})"


@dataclass
class BehaviourTable:
    versions: list[str]
    cells: dict[tuple[str, str], dict[str, Observation]] = field(default_factory=dict)

    @classmethod
    def of(cls, observed: Mapping[str, Iterable[Observation]]) -> BehaviourTable:
        table = cls(sorted(observed, key=version_key))
        for version, observations in observed.items():
            for observation in observations:
                table.cells.setdefault(observation.key, {})[version] = observation
        return table

    def rows(self) -> list[tuple[str, str]]:
        return list(self.cells)

    def shown(self, row: tuple[str, str], version: str) -> str:
        cell = self.cells[row].get(version)
        return cell.shown if cell else MISSING

    def differs(self, row: tuple[str, str]) -> bool:
        compared = {
            (self.cells[row][v].compared if v in self.cells[row] else MISSING)
            for v in self.versions
        }
        return len(compared) > 1

    def differences(self) -> list[Difference]:
        return [
            Difference(*row, {v: self.shown(row, v) for v in self.versions})
            for row in self.rows()
            if self.differs(row)
        ]


def markdown(table: BehaviourTable, notes: Mapping[tuple[str, str], str]) -> str:
    """The table in markdown; a differing row's cells carry the mark and its note says
    which entry of docs/version-differences.md explains it, or that none does."""
    head = ["scenario", "metric", *table.versions, "difference"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in table.rows():
        marked = table.differs(row)
        cells = [_md_cell(table.shown(row, v), marked) for v in table.versions]
        note = notes.get(row, "") if marked else ""
        lines.append("| " + " | ".join([*row, *cells, note]).replace("\n", " ") + " |")
    return "\n".join(lines) + "\n"


def _md_cell(text: str, marked: bool) -> str:
    text = text.replace("|", "\\|")
    return f"**{text}** {MARK}" if marked else text


def html_page(
    table: BehaviourTable, notes: Mapping[tuple[str, str], str], summary: Sequence[str]
) -> str:
    head = "".join(
        f"<th>{html.escape(h)}</th>" for h in ("scenario", "metric", *table.versions, "difference")
    )
    body = []
    for row in table.rows():
        marked = table.differs(row)
        css = ' class="differs"' if marked else ""
        cells = "".join(
            f"<td{css}>{html.escape(table.shown(row, v))}{' ' + MARK if marked else ''}</td>"
            for v in table.versions
        )
        note = html.escape(notes.get(row, "")) if marked else ""
        unexplained = ' class="unexplained"' if marked and note.startswith("UNEXPLAINED") else ""
        body.append(
            f"<tr><td>{html.escape(row[0])}</td><td>{html.escape(row[1])}</td>{cells}"
            f"<td{unexplained}>{note}</td></tr>"
        )
    lines = "".join(f"<li>{html.escape(line)}</li>" for line in summary)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Dapr version matrix</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:2px 6px}td.differs{background:#ffe08a;"
        "font-weight:bold}td.unexplained{background:#f4a6a6}</style></head><body>"
        f"<h1>Dapr version matrix: {html.escape(', '.join(table.versions))}</h1>"
        f"<ul>{lines}</ul><table><tr>{head}</tr>{''.join(body)}</table></body></html>"
    )
