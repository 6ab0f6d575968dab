"""What a check reports, and the one error for a check that could not run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class SetupError(Exception):
    """A check could not run (a tool or a module is missing); its text is one line."""


@dataclass
class FileReport:
    path: Path
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self, root: Path) -> str:
        try:
            name = self.path.relative_to(root)
        except ValueError:
            name = self.path
        if self.ok:
            return f"ok    {name}"
        return f"FAIL  {name}: " + "; ".join(self.problems)


def one_line(value: object) -> str:
    return " ".join(str(value).split())
