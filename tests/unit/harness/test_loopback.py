"""One loopback rule for every URL the suite is given."""

from __future__ import annotations

import pytest

from harness.errors import HarnessError
from harness.loopback import require_loopback


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:6060", "http://127.3.4.5:1/", "http://localhost:9095", "http://[::1]:80"],
)
def test_loopback_urls_pass_without_a_trailing_slash(url):
    assert require_loopback(url, "--host") == url.rstrip("/")


@pytest.mark.parametrize(
    "url", ["http://10.1.2.3:6060", "http://example.org", "http://[::2]:80", "http://0.0.0.0:1"]
)
def test_other_hosts_are_refused_in_one_line(url):
    with pytest.raises(HarnessError, match=r"^--host .* is refused: the suite only reaches"):
        require_loopback(url, "--host")


@pytest.mark.parametrize("url", ["127.0.0.1:6060", "ftp://127.0.0.1/", "http://127.0.0.1:x/"])
def test_what_is_not_an_http_url_is_named(url):
    with pytest.raises(HarnessError, match=r"is not (a|an http) URL"):
        require_loopback(url, "--host")


IN_POD = {"KUBERNETES_SERVICE_HOST": "10.43.0.1"}


@pytest.mark.parametrize(
    "url",
    [
        "http://service-1.dapr-suite.svc:6060",
        "http://prometheus-server.monitoring.svc.cluster.local",
    ],
)
def test_a_pod_reaches_its_clusters_services_by_name(url):
    assert require_loopback(url, "--host", env=IN_POD) == url


def test_outside_a_pod_a_service_name_is_refused():
    with pytest.raises(HarnessError, match=r"is refused: the suite only reaches"):
        require_loopback("http://service-1.dapr-suite.svc:6060", "--host", env={})


@pytest.mark.parametrize("url", ["http://example.org", "http://10.43.0.12:6060", "http://svc:80"])
def test_in_a_pod_only_service_names_are_added(url):
    with pytest.raises(HarnessError, match=r"is refused"):
        require_loopback(url, "--host", env=IN_POD)
