"""The e2e run's HTML report: one file with its charts embedded, readable without a server."""

from __future__ import annotations

import base64
import html
import io
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from e2e.scoreboard import Scoreboard

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.passed{color:#186a18;font-weight:bold}.failed,.error{color:#b00;font-weight:bold}
.skipped,.xfailed{color:#886600}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;max-height:30em}
"""
COUNT_COLUMNS = ("acknowledged", "delivered", "lost", "duplicated", "unexpected", "dead_lettered")


@dataclass
class CheckResult:
    """One test of the run: its outcome, and on a failure what the conftest attached."""

    nodeid: str
    outcome: str = "passed"
    duration: float = 0.0
    failure: str = ""
    sections: list[tuple[str, str]] = field(default_factory=list)


def esc(value: object) -> str:
    return html.escape(str(value))


def render_report(
    checks: list[CheckResult], scoreboard: Scoreboard, started: float, finished: float
) -> str:
    counts: dict[str, int] = {}
    for check in checks:
        counts[check.outcome] = counts.get(check.outcome, 0) + 1
    bad = counts.get("failed", 0) + counts.get("error", 0)
    verdict = "FAILED" if bad or not checks else "PASSED"
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started))
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>dapr pub/sub e2e: {verdict}</title><style>{STYLE}</style></head><body>",
        f"<h1>dapr pub/sub e2e: <span class='{verdict.lower()}'>{verdict}</span></h1>",
        f"<p>{esc(when)}, {finished - started:.1f} s: {esc(summary or 'no checks ran')}</p>",
        _checks_table(checks, scoreboard),
        _scoreboard_table(scoreboard),
        _deltas_table(scoreboard),
        _charts(scoreboard),
        _failures(checks),
        "</body></html>",
    ]
    return "\n".join(part for part in parts if part)


def _checks_table(checks: Iterable[CheckResult], scoreboard: Scoreboard) -> str:
    rows = []
    for check in checks:
        recorded = [
            f"{esc(scenario)} {esc(v.label)}: {'ok' if v.ok else 'NOT ok'}"
            for (scenario, v), owner in zip(scoreboard.rows, scoreboard.row_checks, strict=True)
            if owner == check.nodeid
        ]
        rows.append(
            f"<tr><td>{esc(check.nodeid)}</td><td class='{check.outcome}'>{check.outcome}</td>"
            f"<td class='n'>{check.duration:.2f} s</td><td>{'<br>'.join(recorded)}</td></tr>"
        )
    return (
        "<h2>Checks</h2><table><tr><th>check</th><th>outcome</th><th>time</th>"
        f"<th>delivery verdicts it recorded</th></tr>{''.join(rows)}</table>"
    )


def _scoreboard_table(scoreboard: Scoreboard) -> str:
    if not scoreboard.rows:
        return ""
    head = "".join(f"<th>{name.replace('_', ' ')}</th>" for name in COUNT_COLUMNS)
    rows = []
    for scenario, verdict in scoreboard.rows:
        counts = verdict.counts()
        cells = "".join(f"<td class='n'>{counts[name]}</td>" for name in COUNT_COLUMNS)
        state = "passed" if verdict.ok else "failed"
        rows.append(
            f"<tr><td>{esc(scenario)}</td><td>{esc(verdict.label)}</td>{cells}"
            f"<td class='{state}'>{'ok' if verdict.ok else 'NOT ok'}</td></tr>"
        )
    sent = sum(v.acknowledged for _, v in scoreboard.rows)
    accounted = sum(len(v.delivered) for _, v in scoreboard.rows)
    return (
        "<h2>Scoreboard: messages sent and accounted for</h2><table><tr><th>scenario</th>"
        f"<th>topic</th>{head}<th>verdict</th></tr>{''.join(rows)}</table>"
        f"<p>messages sent {sent}, accounted for {accounted}</p>"
    )


def _deltas_table(scoreboard: Scoreboard) -> str:
    if not scoreboard.deltas:
        return ""
    rows = "".join(
        f"<tr><td>{esc(scenario)}</td><td class='n'>{delta:+g}</td><td><code>{esc(query)}"
        "</code></td></tr>"
        for scenario, query, delta in scoreboard.deltas
    )
    return (
        "<h2>Dapr metric deltas (Prometheus)</h2><table><tr><th>scenario</th><th>delta</th>"
        f"<th>query</th></tr>{rows}</table>"
    )


def _charts(scoreboard: Scoreboard) -> str:
    out = []
    for scenario, timings in scoreboard.timings.items():
        if timings:
            png = _burst_chart(scenario, timings)
            out.append(
                f"<h2>{esc(scenario)}: delivery</h2>"
                f"<img alt='{esc(scenario)} delivery charts' "
                f"src='data:image/png;base64,{png}'>"
            )
    return "".join(out)


def _burst_chart(scenario: str, timings: list[tuple[str, float, float]]) -> str:
    """Left: end-to-end latency per topic; right: publishes and deliveries over time."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    start = min(sent for _, sent, _ in timings)
    figure, (spread, curve) = pyplot.subplots(1, 2, figsize=(11, 4))
    for topic in sorted({topic for topic, _, _ in timings}):
        latencies = [(got - sent) * 1000 for t, sent, got in timings if t == topic]
        spread.hist(latencies, bins=40, alpha=0.6, label=f"{topic} ({len(latencies)})")
    spread.set(xlabel="publish to first receipt (ms)", ylabel="messages", title="latency")
    spread.legend()
    for label, times in (
        ("published", sorted(sent - start for _, sent, _ in timings)),
        ("delivered", sorted(got - start for _, _, got in timings)),
    ):
        curve.step(times, range(1, len(times) + 1), where="post", label=label)
    curve.set(xlabel="seconds since the first publish", ylabel="messages", title="delivery curve")
    curve.legend()
    figure.suptitle(scenario)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    pyplot.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _failures(checks: Iterable[CheckResult]) -> str:
    out = []
    for check in checks:
        if not check.failure:
            continue
        out.append(f"<h3 class='failed'>{esc(check.nodeid)}</h3><pre>{esc(check.failure)}</pre>")
        out.extend(
            f"<details><summary>{esc(title)}</summary><pre>{esc(text)}</pre></details>"
            for title, text in check.sections
        )
    return "<h2>Failures</h2>" + "".join(out) if out else ""
