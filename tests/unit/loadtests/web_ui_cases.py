"""The web UI's own parts: a refused form is answered in the page, the Delivery tab, the total.

Run by test_web_ui.py in a pytest of its own: locust monkey-patches the standard library when
imported, which the suite's main pytest process must not have.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from locust.argument_parser import get_parser
from locust.env import Environment
from locust.stats import RequestStats

from harness.verdict import Outcome
from loadtests.accounting import DeliveryTracker, Publish
from loadtests.conductor import Conductor
from loadtests.options import LoadOptionError, add_locust_arguments, from_locust
from loadtests.stats_total import PublishTotalStats, count_publishes_only
from loadtests.web_ui import delivery_rows, extend, with_form


@pytest.fixture
def ui(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "argv", ["locust"])  # the web UI parses them for its form
    parser = get_parser()
    add_locust_arguments(parser)
    parsed = parser.parse_args(
        ["--host", "http://127.0.0.1:6060", "--results-dir", str(tmp_path), "--users", "2"]
    )
    environment = Environment(user_classes=[], parsed_options=parsed, host=parsed.host)
    environment.create_local_runner()
    count_publishes_only(environment)
    environment.create_web_ui("127.0.0.1", 0, delayed_start=True)
    conductor = Conductor(environment, from_locust(parsed))
    extend(environment, conductor)
    yield environment, conductor, environment.web_ui.app.test_client()
    environment.runner.quit()


def test_a_refused_host_is_answered_in_the_form_and_nothing_starts(ui) -> None:
    environment, _, client = ui
    form = {"user_count": "2", "spawn_rate": "2", "host": "http://10.1.2.3:6060"}
    answer = client.post("/swarm", data=form).get_json()
    assert answer["success"] is False
    assert answer["message"] == (
        "--host 'http://10.1.2.3:6060' is refused: "
        "the suite only reaches 127.0.0.1, ::1 or localhost"
    )
    assert environment.runner.state == "ready" and environment.runner.user_count == 0


def test_a_custom_option_out_of_range_is_refused(ui) -> None:
    _, _, client = ui
    form = {"user_count": "2", "spawn_rate": "2", "host": "http://127.0.0.1:6060",
            "arrival_rate": "99999"}  # fmt: skip
    answer = client.post("/swarm", data=form).get_json()
    assert answer["success"] is False
    assert "--arrival-rate (msgs/s) 99999 must be in" in answer["message"]


def test_the_form_is_merged_like_locust_merges_it(ui) -> None:
    environment, _, _ = ui
    form = {"user_count": "7", "arrival_rate": "12.5", "run_time": "1m", "mix": "t1=50,t2=50"}
    merged = with_form(environment.parsed_options, form)
    options = from_locust(merged)
    assert (options.users, options.arrival_rate, options.run_seconds) == (7, 12.5, 60)
    assert options.mix == {"t1": 0.5, "t2": 0.5}
    with pytest.raises(LoadOptionError, match="arrival_rate 'fast' is not a valid value"):
        with_form(environment.parsed_options, {"arrival_rate": "fast"})


def test_the_delivery_tab_rides_along_with_the_stats(ui) -> None:
    _, conductor, client = ui
    body = client.get("/stats/requests").get_json()
    assert body["extended_stats"] == [
        {"key": "delivery", "data": [{"what": "no test started yet", "value": ""}]}
    ]
    assert delivery_rows(conductor) == body["extended_stats"][0]["data"]


def test_the_delivery_tab_counts_a_running_test(ui) -> None:
    _, conductor, client = ui
    tracker = DeliveryTracker("run-live")
    tracker.add_published(Publish(seq, "t1", 1.0, 2.0) for seq in range(4))
    tracker.add_published([Publish(4, "t1", 1.0, 2.0, Outcome.FAILED)])
    tracker.add_published([Publish(5, "t1", 1.0, 2.0, Outcome.INDETERMINATE)])
    arrival = {"topic": "t1", "sent_at": 1.0, "received_at": 3.0}
    tracker.add_arrivals([{**arrival, "seq": 0}, {**arrival, "seq": 0}, {**arrival, "seq": 1}])
    conductor.current = SimpleNamespace(  # only what the tab reads of a LoadRun
        run="run-live", tracker=tracker, concluded=False, load_ended_at=0.0
    )
    rows = {row["what"]: row["value"] for row in delivery_rows(conductor)}
    assert rows["state"] == "running (verdict after the drain)"
    assert (rows["published"], rows["publish failed"], rows["delivered"]) == ("4", "2", "2")
    assert (rows["backlog (not delivered yet)"], rows["duplicated"]) == ("2", "1")
    tab = client.get("/stats/requests").get_json()["extended_stats"][0]["data"]
    assert tab == delivery_rows(conductor)


def test_each_test_from_the_ui_gets_its_own_folder(ui, tmp_path: Path) -> None:
    _, conductor, _ = ui
    first = conductor.test_dir("run-a")
    conductor.test_dirs["run-a"] = first
    second = conductor.test_dir("run-b")
    assert first == tmp_path / "test-01-run-a" and second == tmp_path / "test-02-run-b"


def test_measurements_stay_out_of_the_aggregated_total() -> None:
    stats = PublishTotalStats()
    stats.log_request("POST", "/publish/t1", 5, 10)
    stats.log_request("E2E", "t1 delivery", 40, 0)
    stats.log_request("DELAY", "publish delay", 1, 0)
    stats.log_error("E2E", "t1 delivery", "lost")
    assert stats.total.num_requests == 1 and stats.total.num_failures == 0
    assert stats.get("t1 delivery", "E2E").num_requests == 1
    assert stats.get("t1 delivery", "E2E").num_failures == 1
    assert len(stats.errors) == 1  # the failures tab still lists the lost message
    plain = RequestStats()
    plain.log_request("E2E", "t1 delivery", 40, 0)
    assert plain.total.num_requests == 1  # what locust does without the swap
