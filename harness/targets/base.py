"""What every target offers the e2e and load tests, and the one way a target is entered.

A target is the system under test as the tests reach it: the local stack (`local.py`) or a
Kubernetes cluster built by k3d (`k8s.py`). Tests use only the attributes of `Target`, and
enter it as a context manager, so they never ask which one they got and never write their
own start/stop: `Lifecycle.__enter__` starts the target, stops whatever a failed start left
behind, and turns the failure into a `TargetStartError` whose message is one line.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from harness.errors import HarnessError
from harness.tokens import StackTokens


class Target(Protocol):
    name: str
    service1_url: str
    service2_url: str
    prometheus_url: str
    daprd_metrics_urls: dict[str, str]
    daprd_http_urls: dict[str, str]  # daprd's API where the target exposes it, else empty
    tokens: StackTokens  # known once started; none when the target runs without tokens
    t2_delay_seconds: float
    pubsub_type: str  # the Dapr component type `messagebus` must resolve to

    def start(self) -> None:
        """Attach to the target or bring it up; raise `HarnessError` when it cannot be used."""
        ...

    def stop(self) -> None:
        """Release what `start()` took; a target this session did not start keeps running."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def logs_tail(self, lines: int = 50) -> dict[str, str]:
        """The last lines of every component's log, by component."""
        ...

    def broker_messages(self, topic: str) -> int:
        """The broker's own count of the messages it took for `topic`."""
        ...

    def problems(self) -> list[str]:
        """What is broken right now (a dead component, say); empty when all is well."""
        ...


class TargetStartError(HarnessError):
    """A target that did not start: one line to show, and what followed it (a log tail)."""

    def __init__(self, target: str, cause: BaseException) -> None:
        headline, _, detail = str(cause).strip().partition("\n")
        super().__init__(f"the {target} target did not start: {headline.rstrip(':')}")
        self.detail = detail.strip("\n")

    def report(self) -> str:
        """The line, and under it the detail, for a report that has room for both."""
        return f"{self}\n{self.detail}".rstrip()


class Lifecycle:
    """`with target:` for every target: start, clean up after a failed start, always stop."""

    name: str

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException as err:  # also Ctrl-C: nothing stays half-started
            self.stop()
            if isinstance(err, HarnessError | OSError):
                raise TargetStartError(self.name, err) from err
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
