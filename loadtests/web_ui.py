"""The load run's parts of the locust web UI: refused options in the page, and a Delivery tab.

- A test started from the form is checked with the same rules as the command line before
  locust starts a user: a refused value (a host other than 127.0.0.1, a rate out of range)
  comes back as the form's error message, and nothing starts.
- The "Delivery" tab shows the current test's delivery verdict (published, delivered, backlog,
  lost, duplicated, unexpected), its results folder and, once it has drained, the gate's result.
  locust fetches `/stats/requests` every two seconds; the tab's rows ride along in its
  `extended_stats`, the way locust's extend_web_ui example does it.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any, cast

from flask import Response, jsonify, request
from locust.env import Environment
from locust.util.timespan import parse_timespan

from loadtests.conductor import Conductor, parsed_options_of
from loadtests.options import LoadOptionError, from_locust

log = logging.getLogger("loadtests")

TAB = "delivery"
FORM_NAMES = {"user_count": "num_users"}  # form field -> parsed option, where they differ


def extend(environment: Environment, conductor: Conductor) -> None:
    web_ui = environment.web_ui
    if web_ui is None or web_ui.app is None:
        return
    web_ui.template_args["extended_tabs"] = [{"title": "Delivery", "key": TAB}]
    web_ui.template_args["extended_tables"] = [
        {"key": TAB, "structure": [{"key": "what", "title": "What"}, {"key": "value", "title": ""}]}
    ]
    app = web_ui.app

    @app.before_request
    def refuse_bad_options() -> Response | None:
        if request.method != "POST" or not request.path.endswith("/swarm"):
            return None
        try:
            from_locust(with_form(parsed_options_of(environment), request.form)).validate()
        except LoadOptionError as err:
            log.error("not starting: %s", err)
            return jsonify({"success": False, "message": str(err), "host": environment.host})
        return None

    @app.after_request
    def add_delivery(response: Response) -> Response:
        if not request.path.endswith("/stats/requests") or response.status_code != 200:
            return response
        body = response.get_json(silent=True)
        if isinstance(body, dict):
            body["extended_stats"] = [{"key": TAB, "data": delivery_rows(conductor)}]
            response.set_data(json.dumps(body))
        return response


def with_form(parsed: argparse.Namespace, form: Any) -> argparse.Namespace:
    """The parsed options as they will be once locust applies the form (same conversions)."""
    merged = argparse.Namespace(**vars(parsed))
    for key, value in form.items():
        name = FORM_NAMES.get(key, key)
        try:
            if key == "run_time":
                if value:
                    merged.run_time = parse_timespan(value)
            elif key == "host":
                merged.host = value
            elif key in ("user_count", "spawn_rate"):
                setattr(merged, name, float(value) if key == "spawn_rate" else int(value))
            elif hasattr(merged, name) and getattr(merged, name) is not None:
                current = getattr(merged, name)
                if not isinstance(current, bool | list):
                    setattr(merged, name, type(current)(value))
        except ValueError:
            raise LoadOptionError(f"{key} {value!r} is not a valid value") from None
    return merged


def delivery_rows(conductor: Conductor) -> list[dict[str, str]]:
    """The verdict of the current (or last) test: live counts, then the summary and gate."""
    load = conductor.current
    if load is None:
        return [{"what": "no test started yet", "value": ""}]
    folder = conductor.test_dirs.get(load.run, conductor.results_dir)
    rows: list[tuple[str, object]] = [("run", load.run), ("results folder", str(folder))]
    summary = read_summary(folder / "summary.json") if load.concluded else None
    if summary is None or summary.get("run") != load.run:
        so_far = load.tracker.verdict()
        state = "draining" if load.load_ended_at else "running"
        rows += [
            ("state", f"{state} (verdict after the drain)"),
            ("published", so_far.acknowledged),
            ("publish failed", so_far.failed + so_far.indeterminate),
            ("delivered", len(so_far.delivered)),
            ("backlog (not delivered yet)", so_far.acknowledged - len(so_far.delivered)),
            ("duplicated", len(so_far.duplicated)),
        ]  # no "unexpected" yet: a receipt can be read before its publish reaches the master
    else:
        gate = summary.get("gate") or {}
        rows += [
            ("state", f"concluded: {summary.get('stop_reason', '')}"),
            ("gate", "PASSED" if gate.get("passed") else "FAILED"),
            *((f"gate check {i + 1}", c["line"]) for i, c in enumerate(gate.get("checks", []))),
            ("published", f"{summary['published']} ({summary['publish_rate']}/s)"),
            ("publish failed", summary["publish_failed"]),
            ("delivered", f"{summary['delivered']} (consumed {summary['consume_rate']}/s)"),
            ("lost", summary["lost"]),
            ("duplicated", summary["duplicated"]),
            ("unexpected", summary["unexpected"]),
            ("backlog at the end of the load", summary["backlog"]),
        ]
    return [{"what": what, "value": str(value)} for what, value in rows]


def read_summary(path: Path) -> dict[str, Any] | None:
    try:
        return cast(dict[str, Any], json.loads(path.read_text()))
    except (OSError, ValueError):
        return None
