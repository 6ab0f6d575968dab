"""Reading daprd's start from its log, on lines daprd 1.18.3 wrote."""

from __future__ import annotations

from harness.daprd_log import name_resolver_failure, name_resolver_started

STARTED = (
    'time="2026-12-01T03:10:04.64Z" level=info msg="Initialized name resolution to sqlite" '
    "app_id=x instance=vm scope=dapr.runtime type=log ver=1.18.3\n"
)
FAILED = (
    'time="2026-12-01T03:09:59.29Z" level=error msg="[INIT_COMPONENT_FAILURE]: initialization '
    "error occurred for nr (sqlite/v1): failed to perform migrations: failed to begin "
    'transaction: database is locked (5) (SQLITE_BUSY)" app_id=x instance=vm '
    "scope=dapr.runtime type=log ver=1.18.3\n"
)
OTHER_COMPONENT_FAILED = (
    'time="t" level=error msg="[INIT_COMPONENT_FAILURE]: initialization error occurred for '
    'messagebus (pubsub.redis/v1): dial tcp: connection refused" scope=dapr.runtime\n'
)


def test_a_started_resolver_is_seen():
    assert name_resolver_started(STARTED)
    assert name_resolver_failure(STARTED) is None


def test_a_failed_resolver_gives_daprds_own_words():
    assert not name_resolver_started(FAILED)
    assert name_resolver_failure(FAILED) == (
        "[INIT_COMPONENT_FAILURE]: initialization error occurred for nr (sqlite/v1): failed to "
        "perform migrations: failed to begin transaction: database is locked (5) (SQLITE_BUSY)"
    )


def test_another_components_failure_is_not_the_resolvers():
    assert name_resolver_failure(OTHER_COMPONENT_FAILED) is None
    assert not name_resolver_started("")
