"""A pod's problem in a few words, and the Deployment a check creates."""

from __future__ import annotations

from types import SimpleNamespace as Obj

from harness.cluster.pods import deployment, pod_problem


def _pod(phase: str, statuses: list[Obj], conditions: list[Obj] | None = None) -> Obj:
    return Obj(status=Obj(phase=phase, container_statuses=statuses, conditions=conditions))


def test_a_waiting_container_names_its_reason() -> None:
    reason = Obj(reason="ErrImageNeverPull", message="image is absent and the policy is Never")
    waiting = Obj(name="app", ready=False, state=Obj(waiting=reason))
    assert pod_problem(_pod("Pending", [waiting])) == (
        "container app waiting: ErrImageNeverPull (image is absent and the policy is Never)"
    )


def test_an_unscheduled_pod_names_its_condition() -> None:
    condition = Obj(type="PodScheduled", status="False", reason="Unschedulable", message="0/1")
    assert pod_problem(_pod("Pending", [], [condition])) == "PodScheduled: Unschedulable (0/1)"


def test_a_running_ready_pod_has_no_problem() -> None:
    assert (
        pod_problem(_pod("Running", [Obj(name="app", ready=True, state=Obj(waiting=None))])) == ""
    )


def test_the_deployment_never_pulls_and_binds_its_host_port_on_loopback() -> None:
    manifest = deployment("service-2", "dapr-suite/service-2:suite", 7070, 20170)
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "Never"
    assert container["ports"] == [{"containerPort": 7070, "hostPort": 20170, "hostIP": "127.0.0.1"}]
    assert manifest["spec"]["selector"]["matchLabels"] == {"app": "service-2"}
