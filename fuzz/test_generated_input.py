"""Generated bad input on every route of both services, on a real local stack.

Schemathesis (Hypothesis underneath) reads each service's own OpenAPI document
(`GET /openapi.json`) and generates requests from it: valid ones and ones that break it
(wrong types, missing and extra fields, huge numbers, wrong content types, path tricks).
Hand-written hostile requests add what a schema cannot describe: invalid UTF-8, deep
nesting, oversize bodies, lone surrogates, lying headers.

Every answer must be JSON and never a 5xx nor a hang; a request that breaks the document
must get a 4xx (a delivery route may answer `{"status": "DROP"}` instead, so that daprd
dead-letters it). Without credentials every guarded route answers 401 and the ledger does
not move. Afterwards both services still answer, a normal message still goes round, and
the ledger holds only what accepted deliveries and publishes could have made.

Bounded: CASES_PER_OPERATION per route and mode, a per-request timeout, and the tox env's
time limit. The seed is printed; FUZZ_SEED=<seed> replays a run.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from jsonschema import Draft7Validator
from schemathesis import GenerationMode

from fuzz.conftest import ledger_rows
from fuzz.tally import FEATURE_PUBLISH_ROUTES, TALLY, is_delivery_route
from harness.local_stack import LocalStack
from system_under_test.service1.openapi import document as service1_document
from system_under_test.service2.openapi import DOCUMENT as SERVICE2_DOCUMENT

CASES_PER_OPERATION = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 40}
CASES_WITHOUT_CREDENTIALS = 8
REQUEST_TIMEOUT = 15.0  # a hang fails the case
DOCUMENTS = {"service-1": service1_document(("t1", "t2")), "service-2": SERVICE2_DOCUMENT}
OPERATIONS = [
    (service, path, method.upper())
    for service, document in DOCUMENTS.items()
    for path, methods in document["paths"].items()
    for method in methods
]
IDS = [f"{service} {method} {path}" for service, path, method in OPERATIONS]
GUARDED = [
    key for key in OPERATIONS if DOCUMENTS[key[0]]["paths"][key[1]][key[2].lower()].get("security")
]
GUARDED_IDS = [f"{service} {method} {path}" for service, path, method in GUARDED]

SESSION = requests.Session()
SESSION.trust_env = False  # loopback only: an http_proxy variable must never reroute it


def base_url(stack: LocalStack, service: str) -> str:
    s = stack.settings
    return s.url(s.service1_port if service == "service-1" else s.service2_port)


def credentials(stack: LocalStack, service: str, path: str, method: str) -> dict[str, str]:
    """The header the route's security scheme names, with the stack's real token."""
    operation = DOCUMENTS[service]["paths"][path][method.lower()]
    schemes = {name for entry in operation.get("security", []) for name in entry}
    if "appToken" in schemes:
        return stack.tokens.app_headers()
    if "suiteToken" in schemes:
        return stack.tokens.suite_headers()
    return {}


def is_delivery(service: str, path: str) -> bool:
    return service == "service-1" and is_delivery_route(path)


def judge(status: int, content_type: str, body: bytes, must_refuse: bool, delivery: bool) -> str:
    """What is wrong with an answer; empty when it is right."""
    if status >= 500:
        return f"answered {status}: {body[:200]!r}"
    if not content_type.startswith("application/json"):
        return f"answered {status} with content type {content_type!r}: {body[:200]!r}"
    try:
        answer = json.loads(body)
    except ValueError:
        return f"answered {status} with a body that is not JSON: {body[:200]!r}"
    if must_refuse and not (400 <= status < 500 or dropped(status, answer, delivery)):
        return f"accepted input it must refuse: {status} {body[:200]!r}"
    if 400 <= status < 500 and not (isinstance(answer, dict) and "error" in answer):
        return f"refused without an 'error' field: {status} {body[:200]!r}"
    return ""


def dropped(status: int, answer: Any, delivery: bool) -> bool:
    return (
        delivery and status == 200 and isinstance(answer, dict) and answer.get("status") == "DROP"
    )


def breaks_the_document(service: str, path: str, method: str, request: Any) -> bool:
    """Does the request as sent break the route's document? A generated "negative" case may
    not: a mutated string is still a string on the wire, and the token header is ours."""
    operation = DOCUMENTS[service]["paths"][path][method.lower()]
    query = parse_qs(urlsplit(request.url).query, keep_blank_values=True)
    for parameter in operation.get("parameters", []):
        given = query.get(parameter["name"], [""])[-1]
        if parameter["in"] == "query" and parameter.get("required") and not given:
            return True
    body = operation.get("requestBody")
    if body is None:
        return False
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media not in body["content"]:
        return True
    raw = request.body or b""
    try:
        value = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except ValueError:
        return True
    return not Draft7Validator(body["content"][media]["schema"]).is_valid(value)


def note(service: str, path: str, status: int, sent: bytes | None = None) -> None:
    if status == 200 and is_delivery(service, path):
        TALLY.accepted_deliveries += 1
    if status == 200 and path == "/publish/{topic}":
        TALLY.accepted_publishes += 1
    if status == 200 and path in FEATURE_PUBLISH_ROUTES:
        TALLY.accepted_publishes += messages_in(sent)


def messages_in(sent: bytes | None) -> int:
    """How many messages an accepted feature publish carried (a bulk publish: its list)."""
    try:
        body = json.loads(sent or b"{}")
    except ValueError:
        return 1
    messages = body.get("messages") if isinstance(body, dict) else None
    return len(messages) if isinstance(messages, list) else 1


def fuzz_operation(
    stack: LocalStack,
    operation_key: tuple[str, str, str],
    mode: GenerationMode,
    examples: int,
    headers: dict[str, str],
    must_refuse: bool,
) -> None:
    service, path, method = operation_key
    url = base_url(stack, service)
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operation = schema[path][method]
    label = f"{service} {method} {path} [{mode.value}{', no token' if must_refuse else ''}]"
    problems: list[str] = []

    @seed(TALLY.seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def one_case(case: Any) -> None:
        try:
            response = case.call(
                base_url=url, session=SESSION, headers=headers, timeout=REQUEST_TIMEOUT
            )
        except Exception as err:  # noqa: BLE001 - a hang or a dropped connection is a finding
            TALLY.count(label, 599)
            problems.append(f"{label}: {type(err).__name__}: {err}")
            return
        status, body = response.status_code, response.content
        TALLY.count(label, status)
        note(service, path, status, response.request.body)
        content_type = (response.headers.get("content-type") or [""])[0]
        delivery = is_delivery(service, path)
        problem = judge(status, content_type, body, must_refuse, delivery)
        negative = mode == GenerationMode.NEGATIVE
        if (
            not problem
            and negative
            and 200 <= status < 300
            and not dropped(status, json.loads(body), delivery)
            and breaks_the_document(service, path, method, response.request)
        ):
            problem = f"accepted input that breaks the document: {status} {body[:200]!r}"
        if problem:
            problems.append(f"{label}: {case.method} {case.formatted_path} -> {problem}")

    with contextlib.suppress(Unsatisfiable):  # nothing to break (a GET without parameters)
        one_case()
    TALLY.failures.extend(problems)
    assert problems == [], f"{len(problems)} bad answers, first: {problems[:3]}"


@pytest.fixture(scope="module")
def ledger_before(stack: LocalStack) -> int:
    return len(ledger_rows(stack))


@pytest.mark.parametrize("operation_key", GUARDED, ids=GUARDED_IDS)
def test_without_credentials_nothing_guarded_opens(stack, ledger_before, operation_key):
    before = len(ledger_rows(stack))
    for mode in GenerationMode:
        fuzz_operation(stack, operation_key, mode, CASES_WITHOUT_CREDENTIALS, {}, True)
    time.sleep(0.2)
    assert len(ledger_rows(stack)) == before, "a call without credentials wrote to the ledger"


@pytest.mark.parametrize("mode", list(GenerationMode), ids=[m.value for m in GenerationMode])
@pytest.mark.parametrize("operation_key", OPERATIONS, ids=IDS)
def test_generated_input(stack, ledger_before, operation_key, mode):
    service, path, method = operation_key
    headers = credentials(stack, service, path, method)
    fuzz_operation(stack, operation_key, mode, CASES_PER_OPERATION[mode], headers, False)


# --- what a schema cannot describe ----------------------------------------------------------

JSON_CT = {"content-type": "application/json"}
CLOUDEVENT_CT = {"content-type": "application/cloudevents+json"}
DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
HOSTILE_BODIES = {
    "invalid UTF-8": b'{"run": "\xff\xfe\xfd", "seq": 1}',
    "UTF-16 with a BOM": '{"run": "r", "seq": 1}'.encode("utf-16"),
    "lone surrogate": b'{"run": "\\ud800", "seq": 1}',
    "deep array": DEEP,
    "deep object": DEEP_OBJECT,
    "a 5000-digit number": b'{"seq": 1' + b"0" * 5000 + b"}",
    "1e400": b'{"sent_at": 1e400}',
    "NaN": b'{"sent_at": NaN}',
    "oversize": b'{"pad": "' + b"x" * 200_000 + b'"}',
    "empty": b"",
    "NUL bytes": b'{"run": "\x00\x00", "seq": 1}',
    "a bare string": b'"t1"',
    "truncated": b'{"run": "r", "seq": ',
    "duplicate keys": b'{"id": "a", "id": 7, "data": {"x": 1}}',
}
POST_ROUTES = [
    ("service-1", "/publish/t1", "suite"),
    ("service-1", "/state", "suite"),
    ("service-1", "/t1", "app"),
    ("service-1", "/t2", "app"),
    ("service-1", "/dead-letter/t1", "app"),
    ("service-2", "/t1", "app"),
    ("service-2", "/state", "suite"),
]
# (method, path, must it be refused?): a strange run id is still just a run with no records
PATH_TRICKS = [
    ("POST", "/publish/..%2F..%2Fstate", True),
    ("POST", "/publish/%00", True),
    ("POST", "/publish/" + "t" * 4000, True),
    ("POST", "/publish/t1%2F..%2Ft2", True),
    ("POST", "/dead-letter/..%2Ft1", True),
    ("POST", "/dead-letter/t1%00", True),
    ("PUT", "/state", True),
    ("PATCH", "/t1", True),
    ("GET", "/%2e%2e/%2e%2e/etc/passwd", True),
    ("GET", "/state/../ledger", True),
    ("DELETE", "/ledger", True),
    ("GET", "/ledger?run=%00%ff", False),
    ("GET", "/ledger?run=" + "r" * 4000, False),
    ("GET", "/ledger/summary?run=&run=x", False),
    ("GET", "/ledger/arrivals?run=r&after=-1", True),
    ("GET", "/ledger/arrivals?run=r&after=1e3", True),
    ("GET", "/ledger/arrivals?run=r&after=" + "9" * 5000, True),
    ("GET", "/ledger/arrivals?run=r&limit=0", True),
    ("GET", "/ledger/arrivals?run=r&limit=%00", True),
    ("GET", "/ledger/arrivals?run=%00%ff&after=0&limit=1", False),
]


def send(stack: LocalStack, service: str, method: str, path: str, **kw: Any) -> httpx.Response:
    url = base_url(stack, service) + path
    with httpx.Client(timeout=REQUEST_TIMEOUT, trust_env=False) as client:
        return client.request(method, url, **kw)


def token_headers(stack: LocalStack, kind: str) -> dict[str, str]:
    return stack.tokens.app_headers() if kind == "app" else stack.tokens.suite_headers()


def check_hostile(label: str, response: httpx.Response, delivery: bool) -> None:
    TALLY.count(label, response.status_code)
    if delivery and response.status_code == 200:
        TALLY.accepted_deliveries += 1  # a DROP is recorded as REJECTED: one ledger row
    problem = judge(
        response.status_code,
        response.headers.get("content-type", ""),
        response.content,
        must_refuse=True,
        delivery=delivery,
    )
    if problem:
        TALLY.failures.append(f"{label}: {problem}")
    assert not problem, f"{label}: {problem}"


@pytest.mark.parametrize("body_name", list(HOSTILE_BODIES))
@pytest.mark.parametrize(("service", "path", "token"), POST_ROUTES,
                         ids=[f"{s} {p}" for s, p, _ in POST_ROUTES])  # fmt: skip
def test_hostile_body(stack, ledger_before, service, path, token, body_name):
    delivery = service == "service-1" and path != "/publish/t1" and path != "/state"
    headers = {**(CLOUDEVENT_CT if delivery else JSON_CT), **token_headers(stack, token)}
    response = send(
        stack, service, "POST", path, content=HOSTILE_BODIES[body_name], headers=headers
    )
    check_hostile(f"{service} POST {path} [hostile: {body_name}]", response, delivery)


WRONG_CONTENT_TYPES = [
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/xml",
    "application/x-www-form-urlencoded",
    "",
    "application/jsonx",
]


@pytest.mark.parametrize("content_type", WRONG_CONTENT_TYPES)
@pytest.mark.parametrize(("service", "path", "token"), POST_ROUTES,
                         ids=[f"{s} {p}" for s, p, _ in POST_ROUTES])  # fmt: skip
def test_wrong_content_type(stack, ledger_before, service, path, token, content_type):
    delivery = service == "service-1" and path != "/publish/t1" and path != "/state"
    headers = {"content-type": content_type, **token_headers(stack, token)}
    body = b'{"id": "x", "data": {"run": "r", "seq": 1}}'
    response = send(stack, service, "POST", path, content=body, headers=headers)
    check_hostile(f"{service} POST {path} [content type {content_type!r}]", response, delivery)


def test_oversize_body_without_content_length(stack, ledger_before):
    def chunks():
        for _ in range(40):
            yield b"x" * 8192

    headers = {**JSON_CT, **stack.tokens.suite_headers()}
    response = send(stack, "service-1", "POST", "/publish/t1", content=chunks(), headers=headers)
    check_hostile("service-1 POST /publish/t1 [chunked oversize]", response, False)


@pytest.mark.parametrize("content_length", ["-1", "abc", "99999999999999999999", "1e3", "70000"])
def test_lying_content_length(stack, ledger_before, content_length):
    """Sent raw: no HTTP client sends a Content-Length that does not match its body."""
    s = stack.settings
    head = (
        "POST /publish/t1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"suite-api-token: {stack.tokens.suite_api}\r\nContent-Length: {content_length}\r\n"
        "Connection: close\r\n\r\n{}"
    )
    with socket.create_connection((s.host, s.service1_port), timeout=REQUEST_TIMEOUT) as conn:
        conn.sendall(head.encode())
        conn.shutdown(socket.SHUT_WR)  # no more body is coming: the server must not wait
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 599
    label = f"service-1 POST /publish/t1 [content-length {content_length}]"
    TALLY.count(label, status)
    # h11 may refuse a malformed header before the app sees it: a 4xx is all that counts
    if not 400 <= status < 500:
        TALLY.failures.append(f"{label}: answered {answer[:200]!r}")
    assert 400 <= status < 500, answer[:300]


@pytest.mark.parametrize(
    ("method", "path", "must_refuse"), PATH_TRICKS, ids=[f"{m} {p[:40]}" for m, p, _ in PATH_TRICKS]
)
def test_path_tricks(stack, ledger_before, method, path, must_refuse):
    headers = {**stack.tokens.suite_headers(), **JSON_CT}
    response = send(stack, "service-1", method, path, content=b"{}", headers=headers)
    label = f"service-1 {method} {path[:40]} [path trick]"
    TALLY.count(label, response.status_code)
    problem = judge(
        response.status_code,
        response.headers.get("content-type", ""),
        response.content,
        must_refuse=must_refuse,
        delivery=False,
    )
    if problem:
        TALLY.failures.append(f"{label}: {problem}")
    assert not problem, f"{label}: {problem}"


# --- afterwards -----------------------------------------------------------------------------


def test_zz_services_still_answer_and_the_ledger_holds_only_what_was_accepted(stack, ledger_before):
    """Last in this module: both services answer and a normal message still goes round."""
    for service in ("service-1", "service-2"):
        assert send(stack, service, "GET", "/healthz").status_code == 200
    run = f"fuzz-after-{TALLY.seed}"
    headers = stack.tokens.suite_headers()
    published = send(stack, "service-1", "POST", "/publish/t1", json={"run": run, "seq": 1},
                     headers=headers)  # fmt: skip
    assert published.status_code == 200, published.text
    deadline = time.monotonic() + 15
    records: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        records = send(stack, "service-1", "GET", f"/ledger?run={run}").json()["records"]
        if records and records[0]["answers"] == ["SUCCESS"]:
            break
        time.sleep(0.2)
    assert [r["answers"] for r in records] == [["SUCCESS"]]

    rows = ledger_rows(stack)[ledger_before:]
    routes = {route for route, _ in rows}
    tutorial = {"/t1", "/t2", "/dead-letter/t1", "/dead-letter/t2"}
    assert {r for r in routes if not r.startswith("/features/")} <= tutorial, routes
    # each accepted delivery writes one attempt; an accepted publish at most 1 + 3 retries
    # plus its dead letter; the final round trip adds one
    allowed = TALLY.accepted_deliveries + 5 * TALLY.accepted_publishes + 1
    assert len(rows) <= allowed, f"{len(rows)} ledger rows, at most {allowed} expected"
