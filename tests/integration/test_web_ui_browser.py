"""The locust web UI in a real Chromium: a refused host, a short test, its E2E rows and verdict.

Chromium and its driver come from Debian (`apt-get install chromium chromium-driver`, done by
.ci/run); Playwright drives that binary (never `playwright install`). A missing browser fails
the test with one line saying how to install it. Screenshots go to results/web-ui-<ts>/.
The stack and the web UI run on ports moved by HARNESS_PORT_OFFSET + 1100.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.processes import default_sigint, stop_group
from harness.results import results_folder
from harness.settings import REPO_ROOT, StackSettings
from harness.tokens import read_tokens, suite_token_env
from harness.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
OFFSET = 1100  # beside tests/integration's 300..900 and tests/load's 200
REFUSED_HOST = "http://10.1.2.3:6060"


def harness(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", command],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def shots() -> Path:
    folder = results_folder(None, "web-ui")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    offset = int(os.environ.get("HARNESS_PORT_OFFSET") or 0) + OFFSET
    env = {
        **os.environ,
        "HARNESS_PORT_OFFSET": str(offset),
        "HARNESS_RUN_DIR": str(tmp_path_factory.mktemp("web-ui-stack")),
    }
    up = harness("up", env)
    assert up.returncode == 0, f"python -m harness up failed:\n{up.stdout}\n{up.stderr}"
    try:
        yield StackSettings.from_env(env)
    finally:
        harness("down", env)


@pytest.fixture(scope="module")
def web_ui(stack: StackSettings, shots: Path) -> Iterator[str]:
    """locust's web UI on 127.0.0.1, stopped (its whole process group) at the end."""
    port = 8089 + int(os.environ.get("HARNESS_PORT_OFFSET") or 0) + OFFSET
    argv = [
        sys.executable, "-m", "locust", "-f", str(REPO_ROOT / "loadtests" / "locustfile.py"),
        "--config", str(REPO_ROOT / "loadtests" / "locust.conf"),
        "--host", stack.url(stack.service1_port),
        "--prometheus-url", stack.url(stack.prometheus_port),
        "--results-dir", str(shots / "locust"),
        "--web-host", "127.0.0.1", "--web-port", str(port),
    ]  # fmt: skip
    with (shots / "locust.log").open("wb") as log:
        child = subprocess.Popen(
            argv, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=default_sigint,  # noqa: PLW1509 - it is stopped with SIGINT
            env={**os.environ, **suite_token_env(read_tokens(stack.run_dir))},  # it publishes
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url), timeout=60, interval=0.2, what=f"locust web UI at {url}")
        yield url
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGINT)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                stop_group(child.pid, grace=2.0)
                child.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A page of Debian's Chromium with a new, empty profile; fails loudly when it is absent."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install it with "
            "`apt-get install chromium chromium-driver` (.ci/run does)",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is missing: pip install -e '.[test]'", pytrace=False)
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )  # fmt: skip
        try:
            yield context.new_page()
        finally:
            context.close()


def test_a_non_loopback_host_is_refused_in_the_page(page, web_ui: str, shots: Path) -> None:
    page.goto(web_ui)
    page.fill('input[name="host"]', REFUSED_HOST)
    page.click('button[type="submit"]')
    refusal = page.get_by_text(
        f"--host '{REFUSED_HOST}' is refused: the suite only reaches 127.0.0.1"
    )
    refusal.wait_for(timeout=15_000)
    page.screenshot(path=str(shots / "01-refused-host.png"), full_page=True)
    stats = httpx.get(f"{web_ui}/stats/requests", timeout=5, trust_env=False).json()
    assert stats["state"] == "ready" and stats["user_count"] == 0  # nobody started


def test_a_short_test_shows_e2e_rows_and_the_verdict(
    page, web_ui: str, stack: StackSettings, shots: Path
) -> None:
    page.goto(web_ui)
    page.fill('input[name="userCount"]', "2")
    page.fill('input[name="spawnRate"]', "2")
    page.fill('input[name="host"]', stack.url(stack.service1_port))
    page.get_by_text("Advanced options").click()
    page.fill('input[name="runTime"]', "8s")
    page.get_by_text("Custom parameters").click()
    page.fill('input[name="arrivalRate"]', "20")
    page.fill('input[name="drainSeconds"]', "15")
    page.click('button[type="submit"]')

    page.get_by_role("cell", name="t1 delivery").wait_for(timeout=30_000)
    page.get_by_role("cell", name="E2E").first.wait_for(timeout=5_000)
    page.screenshot(path=str(shots / "02-e2e-rows.png"), full_page=True)

    page.get_by_role("tab", name="Delivery").click()
    page.get_by_role("cell", name="published", exact=True).wait_for(timeout=10_000)
    page.screenshot(path=str(shots / "03-delivery-during.png"), full_page=True)
    # locust's page stops asking for stats once the runner is stopped, which is before the
    # drain ends: the verdict shows on the next load of the page.
    wait_until(lambda: list((shots / "locust").glob("test-01-*/summary.json")), timeout=90,
               what="the test's summary after the drain")  # fmt: skip
    page.reload()
    page.get_by_role("tab", name="Delivery").click()
    page.get_by_role("cell", name="PASSED", exact=True).wait_for(timeout=30_000)
    page.screenshot(path=str(shots / "04-verdict.png"), full_page=True)
    for what in ("lost", "duplicated", "backlog at the end of the load"):
        page.get_by_role("cell", name=what, exact=True).wait_for(timeout=5_000)

    stats = httpx.get(f"{web_ui}/stats/requests", timeout=5, trust_env=False).json()
    rows = stats["stats"]
    publishes = sum(r["num_requests"] for r in rows if r["method"] == "POST")
    total = next(r for r in rows if r["name"] == "Aggregated")
    assert publishes > 0 and total["num_requests"] == publishes  # E2E and DELAY stay out
    summaries = list((shots / "locust").glob("test-01-*/summary.json"))
    assert len(summaries) == 1, f"no per-test folder under {shots / 'locust'}"
