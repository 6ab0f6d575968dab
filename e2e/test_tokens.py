"""The tokens hold: nobody without them uses daprd, forges a delivery or changes anything.

With tokens on (the default, harness/tokens.py) each check calls for real without a token
and with a wrong one, and proves the call was refused and left no trace: no ledger record,
no invocation of service-2, no state written. With HARNESS_TOKENS=off the first check
proves the stack really runs tokenless; the others have nothing to guard and say so.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from harness.ledger import new_run_id
from harness.settings import REPO_ROOT

pytestmark = pytest.mark.e2e

WRONG = "wrong-token"
WHOLE_LOG_LINES = 1_000_000  # logs_tail of this many lines is the whole log of a run
DELIVERY_ROUTES = ["/t1", "/t2", "/dead-letter/t1", "/dead-letter/t2"]


def call(method: str, url: str, headers: dict[str, str] | None = None, **kw) -> httpx.Response:
    return httpx.request(method, url, headers=headers, timeout=10, trust_env=False, **kw)


@pytest.fixture
def tokens_on(target):
    if not target.tokens.enabled:
        pytest.skip("the target runs without tokens (HARNESS_TOKENS=off): nothing to guard")
    return target.tokens


def forged_delivery(run: str, topic: str) -> dict:
    return {
        "id": f"forged-{run}",
        "source": "service-1",
        "type": "com.dapr.event.sent",
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "data": {"messageType": topic, "message": {"run": run, "seq": 1}},
        "topic": topic,
        "pubsubname": "messagebus",
    }


def test_daprd_api_follows_the_token_mode(target, service1_daprd):
    metadata = f"{service1_daprd}/v1.0/metadata"
    publish = f"{service1_daprd}/v1.0/publish/messagebus/t1"
    body = {"messageType": "t1", "message": {"run": new_run_id("no-token"), "seq": 1}}
    if not target.tokens.enabled:
        assert call("GET", metadata).status_code == 200  # really tokenless
        return
    for headers in ({}, {"dapr-api-token": WRONG}):
        assert call("GET", metadata, headers).status_code == 401
        refused = call("POST", publish, headers, json=body)
        assert refused.status_code == 401, refused.text
    assert call("GET", metadata, target.tokens.dapr_headers()).status_code == 200


@pytest.mark.parametrize("route", DELIVERY_ROUTES)
@pytest.mark.parametrize("token", [None, WRONG], ids=["no token", "wrong token"])
def test_forged_delivery_is_refused_and_leaves_no_trace(target, suite, tokens_on, route, token):
    run = new_run_id("forged")
    topic = route.rsplit("/", 1)[1]
    headers = {"content-type": "application/cloudevents+json"}
    if token:
        headers["dapr-api-token"] = token
    answer = call(
        "POST", f"{target.service1_url}{route}", headers, json=forged_delivery(run, topic)
    )
    assert answer.status_code == 401, answer.text
    assert answer.json() == {"error": "missing or wrong dapr-api-token header"}
    assert suite.ledger.records(run) == []
    assert suite.received_by_service2(run) == []


@pytest.mark.parametrize("token", [None, WRONG], ids=["no token", "wrong token"])
def test_what_changes_something_needs_the_suite_token(target, suite, tokens_on, token):
    headers = {"suite-api-token": token} if token else {}
    run = new_run_id("unauthorised")
    s1, s2 = target.service1_url, target.service2_url
    before = suite.state()
    refused = [
        call("POST", f"{s1}/publish/t1", headers, json={"run": run, "seq": 1}),
        call("POST", f"{s1}/state", headers, json={"value": run}),
        call("DELETE", f"{s1}/state", headers),
        call("POST", f"{s2}/state", headers, json={"value": run}),
    ]
    for answer in refused:
        assert answer.status_code == 401, f"{answer.request.url}: {answer.text}"
        assert answer.json() == {"error": "missing or wrong suite-api-token header"}
    assert suite.state() == before
    # service-2 answers invocations only with the app token, even on its own port
    invoked = call("POST", f"{s2}/t1", {"dapr-api-token": WRONG}, json={"run": run, "seq": 1})
    assert invoked.status_code == 401
    assert suite.ledger.wait_for(run, lambda records: False, timeout=1.0) == []
    assert suite.received_by_service2(run) == []


def written_files(target) -> list[Path]:
    """What the suite writes: the run folder of a local stack (but the token file) and results/."""
    roots = [REPO_ROOT / "results"]
    run_dir = getattr(getattr(target, "settings", None), "run_dir", None)
    if isinstance(run_dir, Path):
        roots.append(run_dir)
    found = [path for root in roots if root.is_dir() for path in root.rglob("*")]
    return [p for p in found if p.is_file() and p.name != "tokens.json" and "-data" not in str(p)]


def test_tokens_never_appear_in_logs_or_reports(target, suite, tokens_on):
    suite.publish_ok("t1", new_run_id("leak-check"), 1)  # so the logs hold some traffic
    # Every component's log as the target keeps it (files of a local stack, pod logs on a
    # cluster), then whatever the suite wrote to disk.
    logs = target.logs_tail(WHOLE_LOG_LINES)
    assert any(text.strip() for text in logs.values()), "no component logs found to check"
    leaks = [
        f"the log of {name}"
        for name, text in logs.items()
        if any(token in text for token in tokens_on.values())
    ]
    leaks += [
        str(path)
        for path in written_files(target)
        if any(token.encode() in path.read_bytes() for token in tokens_on.values())
    ]
    assert leaks == [], f"a token appears in {leaks}"
