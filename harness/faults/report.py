"""The results of a faults run: results/faults-<timestamp>/ with summary.json, one chart
per scenario and one self-contained HTML page with the verdict table."""

from __future__ import annotations

import base64
import html
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.results import require_makeable, results_folder

COLUMNS = ("broker", "scenario", "acknowledged", "failed", "indeterminate", "delivered", "lost",
           "duplicated", "unexpected", "recovered", "dead_lettered", "recover_s",
           "worst_latency_s", "seconds")  # fmt: skip
HEADERS = ("broker", "scenario", "ok", "failed", "indet", "delivered", "lost", "dup", "unexp",
           "recovered", "dead", "recover s", "worst e2e s", "run s")  # fmt: skip


def results_folder_to_be(root: Path | None = None) -> Path:
    """FAULTS_RESULTS_DIR when set (the broker comparison names it), else a new folder's
    name; checked, not made."""
    named = os.environ.get("FAULTS_RESULTS_DIR", "").strip()
    return require_makeable(results_folder(named or None, "faults", root))


def results_dir(root: Path | None = None) -> Path:
    """The run's results folder, made."""
    path = results_folder_to_be(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _cell(value: Any) -> str:
    if value is None:
        return "never"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def table_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The verdict table as fixed-width text, for the console."""
    cells = [list(HEADERS)] + [[_cell(row.get(c)) for c in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                      enumerate(zip(line, widths, strict=True))) for line in cells]  # fmt: skip


def chart_png(summary: dict[str, Any]) -> bytes:
    """Publish and delivery rate, and worst e2e latency, per second; the fault shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timeline = summary["timeline"]
    seconds = list(range(len(timeline["done"])))
    fig, (rate, latency) = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
    for name, color in (("ok", "tab:green"), ("failed", "tab:red"),
                        ("indeterminate", "tab:orange"), ("done", "tab:blue")):  # fmt: skip
        label = "delivered (done)" if name == "done" else f"published {name}"
        rate.plot(seconds, timeline[name], label=label, color=color)
    latency.plot(seconds, timeline["latency"], color="tab:purple", label="worst e2e latency")
    start, end = summary["fault_window_s"]
    for axis in (rate, latency):
        axis.axvspan(start, end, color="grey", alpha=0.25, label="fault")
        axis.legend(loc="upper right", fontsize="small")
    rate.set_ylabel("messages / s")
    latency.set_ylabel("seconds")
    latency.set_xlabel("seconds since the load started")
    rate.set_title(f"{summary['scenario']}: {summary['title']}")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def write_results(
    out: Path, summaries: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]]
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps({"scenarios": list(summaries)}, indent=2))
    images = {}
    for summary in summaries:
        png = chart_png(summary)
        (out / f"{summary['scenario']}.png").write_bytes(png)
        images[summary["scenario"]] = base64.b64encode(png).decode()
    (out / "index.html").write_text(html_page(summaries, rows, images))


def html_page(summaries: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]],
              images: dict[str, str]) -> str:  # fmt: skip
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(row.get(c)))}</td>" for c in COLUMNS) + "</tr>"
        for row in rows
    )
    charts = "".join(
        f"<h2>{html.escape(s.get('broker', 'redis'))}: {html.escape(s['scenario'])}</h2>"
        f"<p>{html.escape(s['title'])}: "
        f"{html.escape(json.dumps(s['verdict']['counts']))}</p>"
        f'<img alt="{html.escape(s["scenario"])}" '
        f'src="data:image/png;base64,{images[s["scenario"]]}">'
        for s in summaries
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Dapr pub/sub faults</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:2px 6px;text-align:right}</style></head><body>"
        f"<h1>Dapr pub/sub under faults</h1><table><tr>{head}</tr>{body}</table>{charts}"
        "</body></html>"
    )
